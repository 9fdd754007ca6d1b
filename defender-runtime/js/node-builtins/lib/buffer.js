'use strict';
// Node's `buffer`: feross/buffer v6, with Node 20's argument checks and errors on the
// read/write methods (lib/internal/buffer.js: `ERR_OUT_OF_RANGE`, `ERR_BUFFER_OUT_OF_BOUNDS`,
// `ERR_INVALID_ARG_TYPE`), which the package reports with messages of its own.
const base = require('buffer/');
const { nodeError, ERR_INVALID_ARG_TYPE, ERR_OUT_OF_RANGE, ERR_BUFFER_OUT_OF_BOUNDS, validateNumber } = require('./errors.js');

const { Buffer } = base;
const proto = Buffer.prototype;

function boundsError(value, length, type) {
  if (Math.floor(value) !== value) {
    validateNumber(value, type || 'offset');
    throw ERR_OUT_OF_RANGE(type || 'offset', 'an integer', value);
  }
  if (length < 0) throw ERR_BUFFER_OUT_OF_BOUNDS();
  throw ERR_OUT_OF_RANGE(type || 'offset', `>= ${type ? 1 : 0} and <= ${length}`, value);
}
// `width` bytes from `offset` inside `buf`, as Node checks them.
function checkBounds(buf, offset, width) {
  validateNumber(offset, 'offset');
  if (!(Number.isInteger(offset) && offset >= 0 && offset + width <= buf.length)) boundsError(offset, buf.length - width);
}
function checkInt(value, min, max, buf, offset, width) {
  if (value > max || value < min) {
    const n = typeof min === 'bigint' ? 'n' : '';
    let range;
    if (width > 4) {
      range = min === 0 || min === 0n
        ? `>= 0${n} and < 2${n} ** ${width * 8}${n}`
        : `>= -(2${n} ** ${width * 8 - 1}${n}) and < 2${n} ** ${width * 8 - 1}${n}`;
    } else {
      range = `>= ${min}${n} and <= ${max}${n}`;
    }
    throw ERR_OUT_OF_RANGE('value', range, value);
  }
  checkBounds(buf, offset, width);
}

const WIDTHS = { 8: 1, 16: 2, 32: 4 };
const define = (names, fn) => { for (const name of names) proto[name] = fn; };
// Fixed-width reads and writes of integers.
for (const bits of [8, 16, 32]) {
  const width = WIDTHS[bits];
  for (const signed of [false, true]) {
    for (const end of bits === 8 ? [''] : ['LE', 'BE']) {
      const read = `read${signed ? 'Int' : 'UInt'}${bits}${end}`;
      const write = `write${signed ? 'Int' : 'UInt'}${bits}${end}`;
      const origRead = proto[read];
      const origWrite = proto[write];
      const min = signed ? -(2 ** (bits - 1)) : 0;
      const max = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
      const lower = (name) => name.replace('UInt', 'Uint');
      define(signed ? [read] : [read, lower(read)], {
        [read](offset = 0) { checkBounds(this, offset, width); return origRead.call(this, offset, true); },
      }[read]);
      define(signed ? [write] : [write, lower(write)], {
        [write](value, offset = 0) {
          value = +value;
          if (bits === 8) {
            validateNumber(offset, 'offset');
            if (value > max || value < min) throw ERR_OUT_OF_RANGE('value', `>= ${min} and <= ${max}`, value);
            checkBounds(this, offset, 1);
          } else checkInt(value, min, max, this, offset, width);
          return origWrite.call(this, value, offset, true);
        },
      }[write]);
    }
  }
}
// Floats and doubles: any number is written.
for (const [kind, width] of [['Float', 4], ['Double', 8]]) {
  for (const end of ['LE', 'BE']) {
    const read = `read${kind}${end}`;
    const write = `write${kind}${end}`;
    const origRead = proto[read];
    const origWrite = proto[write];
    proto[read] = { [read](offset = 0) { checkBounds(this, offset, width); return origRead.call(this, offset, true); } }[read];
    proto[write] = {
      [write](value, offset = 0) { value = +value; checkBounds(this, offset, width); return origWrite.call(this, value, offset, true); },
    }[write];
  }
}
// 64-bit BigInt reads and writes.
for (const signed of [false, true]) {
  for (const end of ['LE', 'BE']) {
    const read = `readBig${signed ? 'Int' : 'UInt'}64${end}`;
    const write = `writeBig${signed ? 'Int' : 'UInt'}64${end}`;
    const origRead = proto[read];
    const origWrite = proto[write];
    const min = signed ? -(2n ** 63n) : 0n;
    const max = signed ? 2n ** 63n - 1n : 2n ** 64n - 1n;
    const names = (n) => (signed ? [n] : [n, n.replace('UInt', 'Uint')]);
    define(names(read), { [read](offset = 0) { checkBounds(this, offset, 8); return origRead.call(this, offset); } }[read]);
    define(names(write), {
      [write](value, offset = 0) {
        checkInt(value, min, max, this, offset, 8);
        if (typeof value !== 'bigint') throw new TypeError('Cannot mix BigInt and other types, use explicit conversions');
        return origWrite.call(this, value, offset);
      },
    }[write]);
  }
}
// Variable-width integers of 1 to 6 bytes.
const RANGES = { 1: 8, 2: 16, 3: 24, 4: 32, 5: 40, 6: 48 };
for (const signed of [false, true]) {
  for (const end of ['LE', 'BE']) {
    const read = `read${signed ? 'Int' : 'UInt'}${end}`;
    const write = `write${signed ? 'Int' : 'UInt'}${end}`;
    const origRead = proto[read];
    const origWrite = proto[write];
    const checkLength = (byteLength) => {
      if (!(byteLength in RANGES) || typeof byteLength !== 'number') boundsError(byteLength, 6, 'byteLength');
      return RANGES[byteLength];
    };
    const names = (n) => (signed ? [n] : [n, n.replace('UInt', 'Uint')]);
    define(names(read), {
      [read](offset, byteLength) {
        if (offset === undefined) throw ERR_INVALID_ARG_TYPE('offset', 'number', offset);
        checkLength(byteLength);
        checkBounds(this, offset, byteLength);
        return origRead.call(this, offset, byteLength, true);
      },
    }[read]);
    define(names(write), {
      [write](value, offset, byteLength) {
        const bits = checkLength(byteLength);
        value = +value;
        const min = signed ? -(2 ** (bits - 1)) : 0;
        const max = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
        if (byteLength === 1) {
          validateNumber(offset, 'offset');
          if (value > max || value < min) throw ERR_OUT_OF_RANGE('value', `>= ${min} and <= ${max}`, value);
          checkBounds(this, offset, 1);
        } else checkInt(value, min, max, this, offset, byteLength);
        return origWrite.call(this, value, offset, byteLength, true);
      },
    }[write]);
  }
}

// base64url, which the package does not know: its base64 decoder already takes `-` and `_`.
const isBase64url = (enc) => typeof enc === 'string' && enc.toLowerCase() === 'base64url';
const encodingArgs = (args) => {
  for (let i = 1; i < args.length; i++) if (isBase64url(args[i])) args[i] = 'base64';
  return args;
};
for (const [target, names] of [[Buffer, ['from', 'alloc', 'byteLength']], [proto, ['write', 'fill', 'indexOf', 'lastIndexOf', 'includes']]]) {
  for (const name of names) {
    const orig = target[name];
    target[name] = { [name](...args) { return Reflect.apply(orig, this, encodingArgs(args)); } }[name];
  }
}
const isEncoding = Buffer.isEncoding;
Buffer.isEncoding = function isEncoding_(encoding) { return isBase64url(encoding) || isEncoding(encoding); };
Object.defineProperty(Buffer.isEncoding, 'name', { value: 'isEncoding' });
// Node's base64 length: from the string's length, without decoding it.
const byteLength = Buffer.byteLength;
Buffer.byteLength = function byteLength_(string, encoding) {
  if (typeof string === 'string' && typeof encoding === 'string' && /^base64(url)?$/i.test(encoding)) {
    let bytes = string.length;
    if (string.charCodeAt(bytes - 1) === 0x3d) bytes--;
    if (bytes > 1 && string.charCodeAt(bytes - 1) === 0x3d) bytes--;
    return (bytes * 3) >>> 2;
  }
  return Reflect.apply(byteLength, this, arguments);
};
Object.defineProperty(Buffer.byteLength, 'name', { value: 'byteLength' });

// UTF-8 as Node (and the WHATWG Encoding standard) decodes it: each maximal invalid
// subsequence becomes one U+FFFD (the package replaces each of its bytes).
function utf8Slice(bytes, start, end) {
  const parts = [];
  let codes = [];
  for (let i = start; i < end;) {
    const b = bytes[i];
    let cp = 0xfffd;
    let next = i + 1;
    if (b < 0x80) cp = b;
    else {
      let need = 0;
      let lower = 0x80;
      let upper = 0xbf;
      if (b >= 0xc2 && b <= 0xdf) { need = 1; cp = b & 0x1f; }
      else if (b >= 0xe0 && b <= 0xef) { need = 2; cp = b & 0xf; if (b === 0xe0) lower = 0xa0; if (b === 0xed) upper = 0x9f; }
      else if (b >= 0xf0 && b <= 0xf4) { need = 3; cp = b & 0x7; if (b === 0xf0) lower = 0x90; if (b === 0xf4) upper = 0x8f; }
      let j = i + 1;
      for (let k = 0; k < need; k++, j++) {
        const c = j < end ? bytes[j] : -1;
        if (c < lower || c > upper) { need = -1; break; }
        lower = 0x80;
        upper = 0xbf;
        cp = (cp << 6) | (c & 0x3f);
      }
      if (need <= 0) cp = 0xfffd;
      next = need === 0 ? i + 1 : j;
    }
    if (cp > 0xffff) {
      cp -= 0x10000;
      codes.push(0xd800 | (cp >>> 10), 0xdc00 | (cp & 0x3ff));
    } else codes.push(cp);
    if (codes.length >= 4096) { parts.push(String.fromCharCode.apply(String, codes)); codes = []; }
    i = next;
  }
  parts.push(String.fromCharCode.apply(String, codes));
  return parts.join('');
}

const toString = proto.toString;
proto.toString = function toString_(encoding, start, end) {
  if (encoding === undefined || (typeof encoding === 'string' && /^utf-?8$/i.test(encoding))) {
    const len = this.length;
    start = start === undefined || start < 0 ? 0 : Math.min(start >>> 0, len);
    end = end === undefined || end > len ? len : end >>> 0;
    return end <= start ? '' : utf8Slice(this, start, end);
  }
  if (!isBase64url(encoding)) return Reflect.apply(toString, this, arguments);
  return toString.call(this, 'base64', start, end).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};
Object.defineProperty(proto.toString, 'name', { value: 'toString' });
proto.toLocaleString = proto.toString;

for (const [name, bits] of [['swap16', 16], ['swap32', 32], ['swap64', 64]]) {
  const orig = proto[name];
  proto[name] = {
    [name]() {
      if (this.length % (bits / 8) !== 0) throw nodeError(RangeError, 'ERR_INVALID_BUFFER_SIZE', `Buffer size must be a multiple of ${bits}-bits`);
      return orig.call(this);
    },
  }[name];
}

// Node's inspection: at most INSPECT_MAX_BYTES bytes, then how many more there are.
proto[Symbol.for('nodejs.util.inspect.custom')] = function inspect(recurseTimes, ctx) {
  const max = module.exports.INSPECT_MAX_BYTES;
  const actualMax = Math.min(max, this.length);
  const remaining = this.length - max;
  let str = this.toString('hex', 0, actualMax).replace(/(.{2})/g, '$1 ').trim();
  if (remaining > 0) str += ` ... ${remaining} more byte${remaining > 1 ? 's' : ''}`;
  return `<${this.constructor.name} ${str}>`;
};
proto.inspect = proto[Symbol.for('nodejs.util.inspect.custom')];

const kMaxLength = 2 ** 32;
const kStringMaxLength = 2 ** 29 - 24;
module.exports = {
  Buffer,
  SlowBuffer: base.SlowBuffer,
  INSPECT_MAX_BYTES: 50,
  kMaxLength,
  kStringMaxLength,
  constants: { MAX_LENGTH: kMaxLength, MAX_STRING_LENGTH: kStringMaxLength },
  atob: (s) => globalThis.atob(s),
  btoa: (s) => globalThis.btoa(s),
  isAscii(input) {
    const bytes = ArrayBuffer.isView(input) ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength) : new Uint8Array(input);
    for (let i = 0; i < bytes.length; i++) if (bytes[i] > 127) return false;
    return true;
  },
};
