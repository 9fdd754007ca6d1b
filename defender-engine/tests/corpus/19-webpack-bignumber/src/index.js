const { ethers } = require('ethers');
const { DefenderRelayProvider } = require('defender-relay-client/lib/ethers');
const { formatUnits } = require('./format');

const TOKEN_ADDRESS = '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512';
const ERC20_ABI = ['function totalSupply() view returns (uint256)', 'function balanceOf(address) view returns (uint256)'];

exports.handler = async function(credentials) {
  const provider = new DefenderRelayProvider(credentials);
  const token = new ethers.Contract(TOKEN_ADDRESS, ERC20_ABI, provider);
  const supply = await token.totalSupply();
  return { supply: formatUnits(supply.toString(), 18), block: await provider.getBlockNumber() };
};
