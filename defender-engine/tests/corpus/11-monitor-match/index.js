const { Defender } = require('@openzeppelin/defender-sdk');

// Triggered by a Monitor: records each large transfer the monitor matched.
exports.handler = async function(event) {
  const match = event.request.body;
  const { hash, sentinel, matchReasons, transaction } = match;
  const transfer = matchReasons.find((r) => r.signature === 'Transfer(address,address,uint256)');
  const client = new Defender(event);
  const seen = parseInt((await client.keyValueStore.get('large-transfers')) || '0', 10) + 1;
  await client.keyValueStore.put('large-transfers', String(seen));
  await client.keyValueStore.put(`transfer:${hash}`, transfer.params.value);
  console.log(`${sentinel.name} matched ${hash} on ${sentinel.address}`);
  return {
    hash,
    monitor: sentinel.name,
    contract: sentinel.address,
    from: transfer.params.from,
    to: transfer.params.to,
    value: transfer.params.value,
    block: parseInt(transaction.blockNumber, 16),
    seen,
  };
};
