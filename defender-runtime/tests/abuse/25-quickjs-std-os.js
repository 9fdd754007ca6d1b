// expect: ok
exports.handler = async () => [typeof std, typeof os, typeof scriptArgs, typeof print, typeof __host, typeof host].join(',');
