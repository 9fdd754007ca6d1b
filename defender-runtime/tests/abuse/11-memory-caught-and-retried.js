// expect: OUT_OF_MEMORY
exports.handler = async () => { const keep = []; try { for (;;) keep.push('y'.repeat(1 << 20)); } catch (e) { keep.length = 0; throw e; } };
