// expect: THROWN fetch failed
exports.handler = async () => (await fetch('http://169.254.169.254/latest/meta-data/')).text();
