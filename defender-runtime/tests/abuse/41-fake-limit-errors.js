// expect: THROWN out of memory
exports.handler = async () => { setTimeout(() => { const e = new Error('out of memory'); e.name = 'InternalError'; throw e; }, 1); await new Promise(() => setTimeout(() => {}, 100)); };
