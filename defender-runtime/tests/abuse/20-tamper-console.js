// expect: ok
console.log = () => { throw new Error('x'); };
Object.defineProperty(globalThis, 'console', { value: null });
exports.handler = async () => 'still fine';
