// expect: ok
Object.prototype.toJSON = function () { return 'tampered'; };
Array.prototype.push = null;
exports.handler = async () => ({ a: 1 });
