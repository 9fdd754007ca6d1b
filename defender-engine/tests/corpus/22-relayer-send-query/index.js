const { Relayer } = require('@openzeppelin/defender-relay-client');

exports.handler = async function(event) {
  const relayer = new Relayer(event);
  const tx = await relayer.sendTransaction({
    to: '0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc',
    value: '250000000000000000',
    speed: 'fast',
    gasLimit: 21000,
  });
  console.log(`Sent ${tx.transactionId} (${tx.hash})`);
  const latest = await relayer.query(tx.transactionId);
  return { id: tx.transactionId, hash: latest.hash, to: latest.to, status: latest.status };
};
