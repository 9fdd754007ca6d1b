const { DefenderRelaySigner, DefenderRelayProvider } = require('defender-relay-client/lib/ethers');

// Signs an ERC-2771 forward request (gasless meta-transaction) with the relayer's key, for a
// forwarder whose address is kept in the secrets.
const ForwardRequest = [
  { name: 'from', type: 'address' },
  { name: 'to', type: 'address' },
  { name: 'value', type: 'uint256' },
  { name: 'gas', type: 'uint256' },
  { name: 'nonce', type: 'uint256' },
  { name: 'data', type: 'bytes' },
];

exports.handler = async function(event) {
  const provider = new DefenderRelayProvider(event);
  const signer = new DefenderRelaySigner(event, provider, { speed: 'fast' });
  const from = await signer.getAddress();
  const { chainId } = await provider.getNetwork();
  const domain = { name: 'MinimalForwarder', version: '0.0.1', chainId, verifyingContract: event.secrets.FORWARDER_ADDRESS };
  const request = { from, to: event.request.body.to, value: 0, gas: 100000, nonce: event.request.body.nonce, data: '0x61461954' };
  const signature = await signer._signTypedData(domain, { ForwardRequest }, request);
  return { signature, domain, request };
};
