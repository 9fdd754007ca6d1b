// The monitor's custom filter: keeps transfers of at least 5000 base units.
const { isLarge } = require('./large');

exports.handler = async function (payload) {
  const matches = payload.request.body.events
    .filter((e) => isLarge(e.matchReasons[0].params.value))
    .map((e) => ({ hash: e.hash, metadata: { kept: true } }));
  return { matches };
};
