const { Relayer } = require('defender-relay-client');

exports.handler = async function(event) {
  // Credentials of a relayer that was deleted (or never existed).
  const relayer = new Relayer({ apiKey: 'FpLzA9tkMxLhYE5V7Qk3', apiSecret: '4Bm9kVn2pQ7rT1xZ8sLw3yH6cJ0dF5gA' });
  const tx = await relayer.sendTransaction({ to: '0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65', value: 1, speed: 'fast', gasLimit: 21000 });
  return tx.hash;
};
