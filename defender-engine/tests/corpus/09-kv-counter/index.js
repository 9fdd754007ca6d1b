const { KeyValueStoreClient } = require('defender-kvstore-client');

// Counts its runs and remembers the last one, across runs.
exports.handler = async function(event) {
  const store = new KeyValueStoreClient(event);
  const runs = parseInt((await store.get('runs')) || '0', 10) + 1;
  const previous = await store.get('last-run-id');
  await store.put('runs', runs.toString());
  await store.put('last-run-id', event.autotaskRunId || event.actionRunId || 'unknown');
  if (runs === 1) await store.put('scratch', 'temporary');
  else await store.del('scratch');
  return { runs, previous, scratch: await store.get('scratch') };
};
