const { keep } = require('./lib/keep');
exports.handler = async function (payload) {
  return { matches: payload.request.body.events.filter(keep).map((e) => ({ hash: e.hash })) };
};
