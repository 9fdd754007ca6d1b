// expect: THROWN Cannot find module
exports.handler = async () => require('../../../../../../etc/hosts');
