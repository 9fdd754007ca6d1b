// expect: THROWN not available in the action sandbox
const fs = require('fs');
exports.handler = async () => fs.readFileSync('/etc/passwd', 'utf8');
