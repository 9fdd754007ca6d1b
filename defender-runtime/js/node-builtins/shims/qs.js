'use strict';
// The `url` package parses query strings with `qs`; Node's legacy `url.parse`/`format` use
// `querystring` (without qs's options).
const querystring = require('../lib/querystring.js');
module.exports = { parse: (str) => querystring.parse(str), stringify: (obj) => querystring.stringify(obj) };
