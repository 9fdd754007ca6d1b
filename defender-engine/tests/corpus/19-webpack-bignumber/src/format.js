const BigNumber = require('bignumber.js');

exports.formatUnits = function (raw, decimals) {
  return new BigNumber(raw).shiftedBy(-decimals).toFormat(2);
};
