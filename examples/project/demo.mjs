// The demo through the host: starts anvil, deploys DemoToken, runs
// `defender-host run examples/project`, exercises each piece and prints what happened.
// Run by scripts/demo.sh (which builds the binary first). Everything listens on 127.0.0.1.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { mkdtempSync, readFileSync, rmSync, createWriteStream, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const host = process.env.DEFENDER_HOST_BIN || join(root, 'target', 'debug', 'defender-host');
const anvilBin = process.env.DEFENDER_ANVIL || 'anvil';
// Anvil's default accounts (their keys are public knowledge): the deployer, the relayer, Bob.
const DEPLOYER = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266';
const RELAYER_KEY = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d';
const ALICE = '70997970c51812dc3a010c7d01b50e0d17dc79c8';
const BOB = '3c44cdddb6a900fa2b585dd299e03d12fa4293bc';
const API_KEY = 'demo-management-key';

const children = [];
let step = 0;
const say = (text) => console.log(`\n[${++step}] ${text}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cleanup = () => children.forEach((c) => c.exitCode === null && c.kill('SIGTERM'));
process.on('exit', cleanup);

async function waitFor(what, f, seconds = 60) {
  for (let i = 0; i < seconds * 5; i++) {
    const v = await f();
    if (v) return v;
    await sleep(200);
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Starts a process; resolves with it and the first stdout line matching `re`. */
function start(cmd, args, env, re, log) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', log ? 'pipe' : 'ignore'] });
    children.push(child);
    if (log) child.stderr.pipe(log);
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`${cmd} exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = line.match(re);
      if (m) resolve({ child, match: m });
    });
  });
}

let rpcUrl;
async function rpc(method, params) {
  const r = await (await fetch(rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })).json();
  if (r.error) throw new Error(`${method}: ${JSON.stringify(r.error)}`);
  return r.result;
}
const mined = (hash) => waitFor(`transaction ${hash}`, () => rpc('eth_getTransactionReceipt', [hash]));
const tokens = (n) => (BigInt(n) * 10n ** 18n).toString(16).padStart(64, '0');

let base;
async function api(method, path, body) {
  const r = await fetch(`${base}${path}`, { method, headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
  return r.json();
}

async function main() {
  say('starting anvil on 127.0.0.1');
  const anvil = await start(anvilBin, ['--host', '127.0.0.1', '--port', '0', '--block-time', '1'], {}, /^Listening on (.*)$/);
  rpcUrl = `http://${anvil.match[1].trim()}`;
  console.log(`    anvil at ${rpcUrl}`);

  say('deploying DemoToken (1,000,000 DEMO)');
  const artifact = JSON.parse(readFileSync(join(root, 'examples', 'contracts', 'DemoToken.json'), 'utf8'));
  const deploy = await rpc('eth_sendTransaction', [{ from: DEPLOYER, data: artifact.bytecode + tokens(1_000_000) }]);
  const token = (await mined(deploy)).contractAddress;
  console.log(`    token at ${token}`);

  say('starting a webhook sink for the notification channel');
  const alerts = [];
  const sink = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => { alerts.push({ body: JSON.parse(body), signature: req.headers['defender-signature'] }); res.end('ok'); });
  });
  await new Promise((r) => sink.listen(0, '127.0.0.1', r));
  const sinkUrl = `http://127.0.0.1:${sink.address().port}/alerts`;
  console.log(`    sink at ${sinkUrl}`);

  say('defender-host run examples/project');
  const state = mkdtempSync(join(tmpdir(), 'defender-host-demo-'));
  const logPath = join(state, 'host.log');
  const log = createWriteStream(logPath);
  const env = { DEMO_RPC: rpcUrl, DEMO_TOKEN: token, DEMO_SINK: sinkUrl, DEMO_STATE: state, DEMO_API_KEY: API_KEY, DEMO_RELAYER_KEY: RELAYER_KEY, DEMO_LISTEN: '127.0.0.1:0' };
  if (!existsSync(host)) throw new Error(`${host} is not built: cargo build -p defender-host`);
  const run = await start(host, ['run', here, '--poll-interval-ms', '250'], env, /^defender-host listening on (.*)$/, log);
  base = run.match[1].trim();
  console.log(`    serving on ${base} (its log: ${logPath})`);
  const actions = await api('GET', '/actions');
  for (const a of actions.items) console.log(`    action ${a.actionId.padEnd(10)} ${a.name} (${a.trigger ? a.trigger.type : 'monitor'})`);
  const monitors = await api('GET', '/monitors');
  for (const m of monitors.items) console.log(`    monitor ${m.monitorId}: ${m.name} -> ${m.notificationChannels.join(', ')}, runs ${m.actionTrigger}`);

  say('calling the webhook action at its stable URL');
  const hooks = await api('GET', '/webhooks');
  const url = hooks.items.find((h) => h.actionId === 'hello').url;
  console.log(`    POST ${url}`);
  const answer = await (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value: '42', name: 'world' }) })).json();
  console.log(`    ${answer.status}: ${answer.result}`);
  if (answer.status !== 'success') throw new Error('the webhook run failed');

  say('sending two transfers: 10 DEMO to Alice, 5000 DEMO to Bob');
  for (const [who, to, n] of [['Alice', ALICE, 10], ['Bob', BOB, 5000]]) {
    const hash = await rpc('eth_sendTransaction', [{ from: DEPLOYER, to: token, data: `0xa9059cbb000000000000000000000000${to}${tokens(n)}` }]);
    await mined(hash);
    console.log(`    ${n} DEMO to ${who}: ${hash}`);
  }

  say('waiting for the monitor: an alert at the sink, the linked action rewarding Bob through the relayer');
  const alert = await waitFor('the alert', () => alerts[0]);
  console.log(`    sink received: ${alert.body.subject} (signed: ${Boolean(alert.signature)})`);
  const reward = await waitFor('the reward run', async () => (await api('GET', '/actions/reward/runs')).items.find((r) => r.status !== 'pending'));
  console.log(`    action reward: ${reward.status}, ${reward.result || reward.message}`);
  for (const line of reward.decodedLogs.trim().split('\n')) console.log(`      log | ${line}`);
  if (reward.status !== 'success') throw new Error('the linked action failed');

  say('the scheduled action (every 3 s, with the relayer)');
  const beats = await waitFor('two heartbeats', async () => {
    const runs = (await api('GET', '/actions/heartbeat/runs')).items.filter((r) => r.status === 'success');
    return runs.length >= 2 && runs;
  });
  console.log(`    ${beats.length} successful runs, latest: ${beats[0].result}`);

  say('what happened');
  for (const a of actions.items) {
    const runs = (await api('GET', `/actions/${a.actionId}/runs`)).items;
    console.log(`    action ${a.actionId.padEnd(10)} ${runs.length} run(s), ${runs.filter((r) => r.status === 'success').length} successful`);
  }
  console.log(`    sink received ${alerts.length} alert(s); dead letters: ${(await api('GET', '/dead-letters')).items.length}`);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  for (const line of metrics.split('\n').filter((l) => l.startsWith('defender_monitor_matches') || l.startsWith('defender_action_runs_total'))) console.log(`    metric ${line}`);

  run.child.removeAllListeners('exit');
  anvil.child.removeAllListeners('exit');
  const stopped = new Promise((r) => run.child.on('exit', r));
  run.child.kill('SIGTERM');
  const code = await stopped;
  anvil.child.kill('SIGTERM');
  sink.close();
  if (code !== 0) throw new Error(`defender-host exited with ${code}`);
  rmSync(state, { recursive: true, force: true });
  console.log('\ndemo finished');
}

main().catch((e) => {
  console.error(`\ndemo failed: ${e.message}`);
  cleanup();
  process.exit(1);
});
