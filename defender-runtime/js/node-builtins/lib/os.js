'use strict';
// Node's `os`, as the sandbox describes itself: a Linux machine with no interfaces to show.
const constants = Object.freeze({
  UV_UDP_REUSEADDR: 4,
  dlopen: Object.freeze({ RTLD_LAZY: 1, RTLD_NOW: 2, RTLD_GLOBAL: 256, RTLD_LOCAL: 0 }),
  errno: Object.freeze({}),
  signals: Object.freeze({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 }),
  priority: Object.freeze({ PRIORITY_LOW: 19, PRIORITY_BELOW_NORMAL: 10, PRIORITY_NORMAL: 0, PRIORITY_ABOVE_NORMAL: -7, PRIORITY_HIGH: -14, PRIORITY_HIGHEST: -20 }),
});
module.exports = {
  EOL: '\n',
  devNull: '/dev/null',
  constants,
  arch: () => 'x64',
  availableParallelism: () => 1,
  cpus: () => [],
  endianness: () => 'LE',
  freemem: () => 268435456,
  getPriority: () => 0,
  homedir: () => '/root',
  hostname: () => 'localhost',
  loadavg: () => [0, 0, 0],
  machine: () => 'x86_64',
  networkInterfaces: () => ({}),
  platform: () => 'linux',
  release: () => '6.0.0',
  setPriority: () => undefined,
  tmpdir: () => '/tmp',
  totalmem: () => 536870912,
  type: () => 'Linux',
  uptime: () => Math.floor(process.uptime()),
  userInfo: () => ({ uid: 1000, gid: 1000, username: 'sbx_user', homedir: '/root', shell: null }),
  version: () => '#1 SMP',
};
