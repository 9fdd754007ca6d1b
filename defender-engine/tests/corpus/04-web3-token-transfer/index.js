const Web3 = require('web3');
const { DefenderRelayProvider } = require('defender-relay-client/lib/web3');

const TOKEN_ADDRESS = '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512';
const RECIPIENT = '0x90F79bf6EB2c4f870365E785982E1f101E93b906';
const ERC20_ABI = [
  { constant: true, inputs: [{ name: '_owner', type: 'address' }], name: 'balanceOf', outputs: [{ name: 'balance', type: 'uint256' }], type: 'function' },
  { constant: false, inputs: [{ name: '_to', type: 'address' }, { name: '_value', type: 'uint256' }], name: 'transfer', outputs: [{ name: '', type: 'bool' }], type: 'function' },
];

exports.handler = async function(credentials) {
  const provider = new DefenderRelayProvider(credentials, { speed: 'fast' });
  const web3 = new Web3(provider);

  const [from] = await web3.eth.getAccounts();
  const token = new web3.eth.Contract(ERC20_ABI, TOKEN_ADDRESS, { from });
  const block = await web3.eth.getBlockNumber();
  const balance = await token.methods.balanceOf(from).call();
  console.log(`Relayer ${from} holds ${web3.utils.fromWei(balance, 'ether')} tokens at block ${block}`);

  const amount = web3.utils.toWei('25', 'ether');
  const receipt = await token.methods.transfer(RECIPIENT, amount).send({ gas: 100000 });
  return { from, balance, tx: receipt.transactionHash, status: receipt.status, version: Web3.version };
};
