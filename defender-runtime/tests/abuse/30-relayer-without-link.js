// expect: RELAYER_CONFIGURATION
const { Relayer } = require('defender-relay-client');
exports.handler = async (event) => new Relayer(event).getRelayer();
