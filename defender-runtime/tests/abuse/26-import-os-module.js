// expect: THROWN
exports.handler = async () => { const os = await import('os'); return os.exec(['id']); };
