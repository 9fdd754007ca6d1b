// expect: TIMEOUT
while (true) {}
exports.handler = async () => 1;
