const { ethers } = require('ethers');
const { DefenderRelaySigner, DefenderRelayProvider } = require('defender-relay-client/lib/ethers');

// The keeper contract: canExecute() says whether work is due, execute() does it.
const KEEPER_ADDRESS = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const KEEPER_ABI = ['function canExecute() view returns (bool)', 'function execute()'];

// Entrypoint for the Autotask
exports.handler = async function(credentials) {
  const provider = new DefenderRelayProvider(credentials);
  const signer = new DefenderRelaySigner(credentials, provider, { speed: 'fast' });
  const keeper = new ethers.Contract(KEEPER_ADDRESS, KEEPER_ABI, signer);

  if (!(await keeper.canExecute())) {
    console.log('Nothing to do');
    return;
  }
  const tx = await keeper.execute();
  console.log(`Called execute in ${tx.hash}`);
  return { hash: tx.hash, from: await signer.getAddress(), ethers: ethers.version };
};

// To run locally (this code will not be executed in Autotasks)
if (require.main === module) {
  require('dotenv').config();
  const { API_KEY: apiKey, API_SECRET: apiSecret } = process.env;
  exports.handler({ apiKey, apiSecret })
    .then(() => process.exit(0))
    .catch(error => { console.error(error); process.exit(1); });
}
