// expect: ok | THROWN
class X extends Uint8Array { get byteLength() { this.n = (this.n || 0) + 1; return this.n === 1 ? 16 : 2 ** 45; } }
exports.handler = async () => crypto.getRandomValues(new X(16)).length;
