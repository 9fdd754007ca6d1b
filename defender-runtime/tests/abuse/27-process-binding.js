// expect: THROWN
exports.handler = async () => process.binding('fs');
