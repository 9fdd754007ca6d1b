// Counts its runs by run id in the shared key-value store: a tick's run id is the same in
// every process, so a tick run twice shows as a count of 2.
const { KeyValueStoreClient } = require('defender-kvstore-client');

exports.handler = async function (event) {
  const store = new KeyValueStoreClient(event);
  const key = `tick/${event.actionId}/${event.actionRunId}`;
  const runs = Number((await store.get(key)) || 0);
  await store.put(key, String(runs + 1));
  return { key, runs: runs + 1 };
};
