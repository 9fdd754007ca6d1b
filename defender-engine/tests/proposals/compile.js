// Compiles contracts/TestGovernor.sol with solc-js (no native solc) against the installed
// OpenZeppelin Contracts, and writes node_modules/.compiled/<Contract>.json ({ abi, bytecode }). Run by
// tests/proposals.rs when they are missing; cached afterwards.
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const here = __dirname;
const source = fs.readFileSync(path.join(here, 'contracts', 'TestGovernor.sol'), 'utf8');
const input = {
  language: 'Solidity',
  sources: { 'TestGovernor.sol': { content: source } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'paris',
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
  },
};
function findImports(p) {
  try {
    return { contents: fs.readFileSync(path.join(here, 'node_modules', p), 'utf8') };
  } catch (e) {
    return { error: `not found: ${p}` };
  }
}
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (output.errors || []).filter((e) => e.severity === 'error');
if (errors.length) {
  for (const e of errors) console.error(e.formattedMessage);
  process.exit(1);
}
// Under node_modules, which git ignores and `npm ci` starts afresh.
const out = path.join(here, 'node_modules', '.compiled');
fs.mkdirSync(out, { recursive: true });
for (const name of ['TestGovernor', 'TestVotesToken']) {
  const c = output.contracts['TestGovernor.sol'][name];
  const artifact = { abi: c.abi, bytecode: '0x' + c.evm.bytecode.object };
  // Written whole then renamed, so a concurrent test never reads half a file.
  const tmp = path.join(out, `${name}.json.${process.pid}`);
  fs.writeFileSync(tmp, JSON.stringify(artifact));
  fs.renameSync(tmp, path.join(out, `${name}.json`));
}
