// Drives the host's relayer API with the real @openzeppelin/defender-sdk relayer client, as a
// service outside the actions would: run by tests/relayer_api.rs, which checks what it prints.
// Env: DEFENDER_API_URL (the host), RELAYER_API_KEY, RELAYER_API_SECRET, TO, ANVIL_URL.
'use strict';
const { Relayer } = require('@openzeppelin/defender-sdk-relay-signer-client');
const { ethers } = require('ethers');

const { RELAYER_API_KEY: apiKey, RELAYER_API_SECRET: apiSecret, TO: to, ANVIL_URL } = process.env;

async function mine() {
  await fetch(ANVIL_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'evm_mine', params: [] }),
  });
}

async function main() {
  // (A wrong secret is not tried here: the SDK retries a refused login with backoff for
  // seconds; tests/relayer_api.rs checks the refusal over HTTP.)
  const out = {};
  const relayer = new Relayer({ apiKey, apiSecret });
  out.relayer = await relayer.getRelayer();
  out.status = await relayer.getRelayerStatus();

  const sent = await relayer.sendTransaction({ to, value: 1, speed: 'fast', gasLimit: 21000 });
  out.sent = sent;
  out.got = await relayer.getTransaction(sent.transactionId);
  out.byNonce = await relayer.getTransactionByNonce(sent.nonce);
  out.replaced = await relayer.replaceTransactionById(sent.transactionId, {
    to, value: 3, speed: 'fastest', gasLimit: 21000,
  });
  out.listed = await relayer.listTransactions({ since: new Date(Date.now() - 3600e3), limit: 10 });
  // A second transaction in flight, then cancelled: getRelayer's pendingTxCost counts both.
  const extra = await relayer.sendTransaction({ to, value: 4, speed: 'fast', gasLimit: 21000 });
  out.extra = extra;
  out.relayerPending = await relayer.getRelayer();
  out.cancelled = await relayer.cancelTransactionById(extra.transactionId);
  out.afterCancel = await relayer.getTransaction(extra.transactionId);

  const signed = await relayer.sign({ message: '0x1234' });
  out.signed = signed;
  out.signer = ethers.verifyMessage(ethers.getBytes('0x1234'), signed.sig);
  const domainSeparator = ethers.id('domain');
  const hashStructMessage = ethers.id('struct');
  const typed = await relayer.signTypedData({ domainSeparator, hashStructMessage });
  out.typedSigner = ethers.recoverAddress(
    ethers.keccak256(ethers.concat(['0x1901', domainSeparator, hashStructMessage])),
    typed.sig,
  );
  out.chainId = await relayer.call({ method: 'eth_chainId', params: [] });
  out.rpcError = await relayer.call({ method: 'no_such_method', params: [] });

  // The SDK's ethers v6 provider and signer: JSON-RPC and sends through the relayer API.
  const provider = relayer.getProvider({ ethersVersion: 'v6' });
  provider.pollingInterval = 100;
  const signer = await relayer.getSigner(provider, { ethersVersion: 'v6', speed: 'fast' });
  out.signerAddress = await signer.getAddress();
  const response = await signer.sendTransaction({ to, value: 2 });
  await mine();
  let timer;
  const receipt = await Promise.race([
    response.wait(),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('no receipt in 30 s')), 30e3);
    }),
  ]);
  clearTimeout(timer);
  out.receipt = { status: receipt.status, from: receipt.from, to: receipt.to };
  out.balanceOfTo = (await provider.getBalance(to)).toString();
  console.log(JSON.stringify(out));
  provider.destroy();
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
