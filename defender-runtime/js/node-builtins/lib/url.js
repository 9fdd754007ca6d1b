'use strict';
// Node's `url`: the sandbox's WHATWG `URL`/`URLSearchParams`, the legacy `parse`/`format`/
// `resolve` of the `url` package (0.11, Node's legacy code), and Node 20's file URL helpers.
const legacy = require('url/url.js');
const punycode = require('punycode/');
const pathMod = require('path-browserify');
const sandbox = require('./sandbox.js');
const { nodeError, ERR_INVALID_ARG_TYPE } = require('./errors.js');

const { URL, URLSearchParams } = sandbox;

function fileURLToPath(path) {
  if (typeof path === 'string') path = new URL(path);
  else if (!(path instanceof URL)) throw ERR_INVALID_ARG_TYPE('path', 'string or an instance of URL', path);
  if (path.protocol !== 'file:') throw nodeError(TypeError, 'ERR_INVALID_URL_SCHEME', 'The URL must be of scheme file');
  if (path.hostname !== '') throw nodeError(TypeError, 'ERR_INVALID_FILE_URL_HOST', 'File URL host must be "localhost" or empty on linux');
  const pathname = path.pathname;
  for (let n = 0; n < pathname.length; n++) {
    if (pathname[n] === '%') {
      const third = pathname.codePointAt(n + 2) | 0x20;
      if (pathname[n + 1] === '2' && third === 102) {
        throw nodeError(TypeError, 'ERR_INVALID_FILE_URL_PATH', 'File URL path must not include encoded / characters');
      }
    }
  }
  return decodeURIComponent(pathname);
}

// The characters a URL's path percent-encodes (and `%`, `\`, newlines and tabs, which Node
// encodes first so that they stay in the path).
const PATH_ESCAPES = /[\x00-\x20"#%<>?\\`{}\x7f-\uffff]/g;
function pathToFileURL(filepath) {
  if (typeof filepath !== 'string') throw ERR_INVALID_ARG_TYPE('path', 'string', filepath);
  let resolved = pathMod.resolve(filepath);
  if (filepath.charCodeAt(filepath.length - 1) === 47 && resolved[resolved.length - 1] !== '/') resolved += '/';
  return new URL('file://' + resolved.replace(PATH_ESCAPES, (c) => encodeURIComponent(c)));
}

function urlToHttpOptions(url) {
  const options = {
    protocol: url.protocol,
    hostname: typeof url.hostname === 'string' && url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    hash: url.hash,
    search: url.search,
    pathname: url.pathname,
    path: `${url.pathname || ''}${url.search || ''}`,
    href: url.href,
  };
  if (url.port !== '') options.port = Number(url.port);
  if (url.username || url.password) options.auth = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  return options;
}

function domainToASCII(domain) {
  try { return punycode.toASCII(String(domain).toLowerCase()); } catch (e) { return ''; }
}
function domainToUnicode(domain) {
  try { return punycode.toUnicode(String(domain).toLowerCase()); } catch (e) { return ''; }
}

module.exports = {
  Url: legacy.Url,
  parse: legacy.parse,
  resolve: legacy.resolve,
  resolveObject: legacy.resolveObject,
  format(urlObject, options) {
    if (urlObject instanceof URL) {
      const o = Object.assign({ auth: true, fragment: true, search: true, unicode: false }, options);
      let s = urlObject.protocol + (urlObject.host || urlObject.protocol === 'file:' ? '//' : '');
      if (o.auth && (urlObject.username || urlObject.password)) s += urlObject.username + (urlObject.password ? ':' + urlObject.password : '') + '@';
      s += (o.unicode ? domainToUnicode(urlObject.hostname) : urlObject.hostname) + (urlObject.port ? ':' + urlObject.port : '');
      s += urlObject.pathname + (o.search ? urlObject.search : '') + (o.fragment ? urlObject.hash : '');
      return s;
    }
    return legacy.format(urlObject);
  },
  URL,
  URLSearchParams,
  domainToASCII,
  domainToUnicode,
  pathToFileURL,
  fileURLToPath,
  urlToHttpOptions,
};
