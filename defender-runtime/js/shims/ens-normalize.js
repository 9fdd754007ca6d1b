// @ethersproject/hash 5.7 (lib/ens-normalize/lib.js, ethers v5's ENS name normalisation),
// substituted (src/substitute/): the same two functions, but the module's tables (tens of
// thousands of code points decoded into Sets and Maps, most of the time and memory of
// `require('ethers')` in QuickJS) are built by the original module on the first call
// instead of when ethers loads. Most actions never normalise an ENS name.
(function (module, require, original, host) {
  'use strict';
  Object.defineProperty(module.exports, '__esModule', { value: true });
  module.exports.ens_normalize = module.exports.ens_normalize_post_check = void 0;
  module.exports.ens_normalize_post_check = function ens_normalize_post_check(name) {
    return original().ens_normalize_post_check(name);
  };
  module.exports.ens_normalize = function ens_normalize(name) {
    return original().ens_normalize(name);
  };
})
