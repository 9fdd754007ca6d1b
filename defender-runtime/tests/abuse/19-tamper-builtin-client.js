// expect: ok
const { KeyValueStoreClient } = require('defender-kvstore-client');
Function.prototype.call = function () { throw new Error('tampered call'); };
exports.handler = async (event) => new KeyValueStoreClient(event).get('k');
