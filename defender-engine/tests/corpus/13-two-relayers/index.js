const { Relayer } = require('defender-relay-client');

const PAYEE = '0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65';

// Tops up a payee from two relayers of the team, each reached with its own API key.
exports.handler = async function(event) {
  const hot = new Relayer({ apiKey: event.secrets.HOT_API_KEY, apiSecret: event.secrets.HOT_API_SECRET });
  const treasury = new Relayer({ apiKey: event.secrets.TREASURY_API_KEY, apiSecret: event.secrets.TREASURY_API_SECRET });
  const [hotInfo, treasuryInfo] = await Promise.all([hot.getRelayer(), treasury.getRelayer()]);
  const fromHot = await hot.sendTransaction({ to: PAYEE, value: '500000000000000000', speed: 'fast', gasLimit: 21000 });
  const fromTreasury = await treasury.sendTransaction({ to: PAYEE, value: '1000000000000000000', speed: 'fast', gasLimit: 21000 });
  return {
    hot: { address: hotInfo.address, hash: fromHot.hash },
    treasury: { address: treasuryInfo.address, hash: fromTreasury.hash },
  };
};
