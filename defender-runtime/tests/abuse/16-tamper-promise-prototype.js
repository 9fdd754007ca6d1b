// expect: ok
Promise.prototype.then = function () { throw new Error('tampered then'); };
exports.handler = async () => 1;
