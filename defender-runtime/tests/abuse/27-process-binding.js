// expect: ok
// Node's deprecated process.binding answers for the names old packages read at load
// (fs-minipass reads 'fs'), with nothing behind it; other names are refused.
exports.handler = async () => {
  const fs = process.binding('fs');
  const keys = Object.keys(fs).concat(Object.getOwnPropertyNames(Object.getPrototypeOf(fs) || {}));
  if (Object.getPrototypeOf(fs) !== Object.prototype || Object.keys(fs).length !== 0) throw new Error('fs binding exposes ' + keys);
  try { process.binding('spawn_sync'); } catch (e) { return 'refused'; }
  throw new Error('the spawn_sync binding was given');
};
