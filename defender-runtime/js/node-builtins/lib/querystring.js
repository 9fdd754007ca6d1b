'use strict';
// Node's `querystring`, after lib/querystring.js of Node 20. (querystring-es3, the bundlers'
// stand-in, throws on a malformed escape, returns objects with a prototype and drops
// bigints; Node does none of these.)
const sandbox = require('./sandbox.js');

const hex = (c) => (c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1);

// The bytes of `s` with each valid %XX decoded (and `+` as a space when asked).
function unescapeBuffer(s, decodeSpaces) {
  const Buffer = sandbox.Buffer();
  const out = Buffer.allocUnsafe(s.length);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 43 /* + */ && decodeSpaces) { out[n++] = 32; continue; }
    if (c === 37 /* % */ && i + 2 < s.length && hex(s.charCodeAt(i + 1)) >= 0 && hex(s.charCodeAt(i + 2)) >= 0) {
      out[n++] = hex(s.charCodeAt(i + 1)) * 16 + hex(s.charCodeAt(i + 2));
      i += 2;
      continue;
    }
    if (c < 128) { out[n++] = c; continue; }
    const bytes = Buffer.from(s[i] + (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length ? s[i + 1] : ''));
    if (bytes.length === 4) i++;
    for (const b of bytes) out[n++] = b;
  }
  return out.subarray(0, n);
}

function qsUnescape(s, decodeSpaces) {
  try {
    return decodeURIComponent(s);
  } catch (e) {
    return unescapeBuffer(s, decodeSpaces).toString();
  }
}

function qsEscape(str) {
  if (typeof str !== 'string') {
    if (typeof str === 'object') str = String(str);
    else str += '';
  }
  return encodeURIComponent(str);
}

function stringifyPrimitive(v) {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return '' + v;
  if (typeof v === 'bigint') return '' + v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return '';
}

function stringify(obj, sep, eq, options) {
  sep = sep || '&';
  eq = eq || '=';
  let encode = module.exports.escape;
  if (options && typeof options.encodeURIComponent === 'function') encode = options.encodeURIComponent;
  const convert = (v) => encode(stringifyPrimitive(v));
  if (obj !== null && typeof obj === 'object') {
    const keys = Object.keys(obj);
    const fields = [];
    for (const k of keys) {
      const v = obj[k];
      const ks = convert(k) + eq;
      if (Array.isArray(v)) {
        if (v.length) fields.push(v.map((x) => ks + convert(x)).join(sep));
      } else {
        fields.push(ks + convert(v));
      }
    }
    return fields.join(sep);
  }
  return '';
}

function parse(qs, sep, eq, options) {
  const obj = Object.create(null);
  if (typeof qs !== 'string' || qs.length === 0) return obj;
  sep = sep ? String(sep) : '&';
  eq = eq ? String(eq) : '=';
  let maxKeys = 1000;
  if (options && typeof options.maxKeys === 'number') maxKeys = options.maxKeys;
  let decode = module.exports.unescape;
  if (options && typeof options.decodeURIComponent === 'function') decode = options.decodeURIComponent;
  const parts = qs.split(sep);
  let count = 0;
  for (const part of parts) {
    if (part.length === 0) continue;
    if (maxKeys > 0 && count >= maxKeys) break;
    count++;
    const idx = part.indexOf(eq);
    let k = idx >= 0 ? part.slice(0, idx) : part;
    let v = idx >= 0 ? part.slice(idx + eq.length) : '';
    k = k.replace(/\+/g, ' ');
    v = v.replace(/\+/g, ' ');
    const dec = (s) => {
      if (!s.includes('%')) return s;
      try { return decode(s); } catch (e) { return qsUnescape(s, true); }
    };
    k = dec(k);
    v = dec(v);
    if (!(k in obj)) obj[k] = v;
    else if (Array.isArray(obj[k])) obj[k].push(v);
    else obj[k] = [obj[k], v];
  }
  return obj;
}

module.exports = {
  unescapeBuffer,
  unescape: qsUnescape,
  escape: qsEscape,
  stringify,
  encode: stringify,
  parse,
  decode: parse,
};
