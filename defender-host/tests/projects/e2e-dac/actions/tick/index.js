// Scheduled, with the linked relayer.
const { Relayer } = require('@openzeppelin/defender-relay-client');

exports.handler = async function (event) {
  const relayer = new Relayer(event);
  const info = await relayer.getRelayer();
  return { who: process.env.WHO, relayer: info.address, shared: event.secrets.shared };
};
