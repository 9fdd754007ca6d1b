// expect: TIMEOUT | OUT_OF_MEMORY
// Every timer starts two more: the pending timers grow until the time or the memory limit
// (whichever comes first on this machine) ends the run.
exports.handler = () => new Promise(() => { const f = () => { setTimeout(f, 0); setTimeout(f, 0); }; f(); });
