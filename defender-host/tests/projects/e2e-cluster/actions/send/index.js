// Sends one relayer transaction to Carol whose value is the caller's marker.
const { Relayer } = require('@openzeppelin/defender-relay-client');

exports.handler = async function (event) {
  const relayer = new Relayer(event);
  const { marker } = event.request.body;
  const tx = await relayer.sendTransaction({
    to: '0x90F79bf6EB2c4f870365E785982E1f101E93b906',
    value: marker,
    gasLimit: 21000,
    speed: 'fast',
  });
  return { id: tx.transactionId, nonce: tx.nonce, hash: tx.hash };
};
