// expect: THROWN process.exit is not available
exports.handler = async () => { process.exit(0); };
