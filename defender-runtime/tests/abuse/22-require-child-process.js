// expect: THROWN not available in the action sandbox
exports.handler = async () => require('child_process').execSync('id').toString();
