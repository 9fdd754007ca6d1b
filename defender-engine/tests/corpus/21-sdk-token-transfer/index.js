const { Defender } = require('@openzeppelin/defender-sdk');
const { ethers } = require('ethers');

const TOKEN_ADDRESS = '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512';
const ERC20_ABI = ['function transfer(address to, uint256 amount) returns (bool)', 'function balanceOf(address) view returns (uint256)'];

exports.handler = async function(event) {
  const client = new Defender(event);
  const provider = client.relaySigner.getProvider();
  const signer = await client.relaySigner.getSigner(provider, { speed: 'fast' });
  const token = new ethers.Contract(TOKEN_ADDRESS, ERC20_ABI, signer);
  const { recipient, amount } = event.request.body;
  const tx = await token.transfer(recipient, ethers.utils.parseUnits(amount, 18));
  const receipt = await tx.wait();
  return { hash: tx.hash, block: receipt.blockNumber, balance: (await token.balanceOf(recipient)).toString() };
};
