const solc = require('solc');
const fs = require('fs');
const file = process.argv[2];
const input = { language: 'Solidity', sources: { [file]: { content: fs.readFileSync(file, 'utf8') } },
  settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: 'paris', outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } } };
const out = JSON.parse(solc.compile(JSON.stringify(input)));
if (out.errors) for (const e of out.errors) console.error(e.formattedMessage);
for (const [name, c] of Object.entries(out.contracts[file])) {
  console.log(JSON.stringify({ name, abi: c.abi, bytecode: '0x' + c.evm.bytecode.object }));
}
