// Every 3 seconds: counts its beats in the key-value store and reads its relayer.
const { Defender } = require('@openzeppelin/defender-sdk');

exports.handler = async function (event) {
  const client = new Defender(event);
  const beats = Number((await client.keyValueStore.get('heartbeats')) || '0') + 1;
  await client.keyValueStore.put('heartbeats', String(beats));
  const relayer = await client.relaySigner.getRelayer();
  console.log(`heartbeat ${beats} from relayer ${relayer.address}`);
  return { beats, relayer: relayer.address };
};
