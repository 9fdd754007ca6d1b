// Uploaded as a zip with its own node_modules: ethers v6 (node_modules/ethers), which is not
// in Defender's pre-installed set.
const { ethers } = require('ethers');
const { DefenderRelaySigner, DefenderRelayProvider } = require('@openzeppelin/defender-relay-client/lib/ethers');

const KEEPER_ADDRESS = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const KEEPER_ABI = ['function canExecute() view returns (bool)', 'function execute()'];

exports.handler = async function(event) {
  const provider = new DefenderRelayProvider(event);
  const signer = new DefenderRelaySigner(event, provider, { speed: 'fast' });
  const keeper = new ethers.Contract(KEEPER_ADDRESS, KEEPER_ABI, signer);
  if (!(await keeper.canExecute())) return { executed: false };
  const tx = await keeper.execute();
  const receipt = await tx.wait();
  console.log(`execute() mined in block ${receipt.blockNumber}`);
  return { executed: true, hash: tx.hash, status: receipt.status, ethers: ethers.version };
};
