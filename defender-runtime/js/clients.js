// Defender's client packages, bound to the host's key-value store, relayer, notifiers and
// management API (actions, monitors, channels).
// Each entry is a CommonJS factory `(module, exports, api)`. Like the other files here, a
// global script whose completion value is what it provides (see src/script.rs).
(function () {
'use strict';

// The relayer credentials an action passed: `{ apiKey, apiSecret }` (relay client,
// DefenderRelayProvider/Signer) or `{ relayerApiKey, relayerApiSecret }` (defender-sdk); `null`
// for the action's event (its linked relayer). The host refuses credentials it does not know:
// they never fall back to the linked relayer.
function relayerCredentials(c, sdk) {
  if (!c || typeof c !== 'object') return null;
  let key = sdk ? c.relayerApiKey : c.apiKey;
  let secret = sdk ? c.relayerApiSecret : c.apiSecret;
  // defender-sdk given only a team key and no event: that key is what it has.
  if (sdk && key === undefined && secret === undefined && c.credentials === undefined && c.relayerARN === undefined) {
    key = c.apiKey;
    secret = c.apiSecret;
  }
  if (key !== undefined || secret !== undefined) return { apiKey: String(key), apiSecret: String(secret) };
  return null;
}

function relayerMethods(api, credentials) {
  const call = (method, arg) => api.hostCall('relayer.' + method, { credentials: credentials || null, arg: arg === undefined ? null : arg });
  return {
    sendTransaction: (tx) => call('sendTransaction', tx),
    getTransaction: (id) => call('getTransaction', { id }),
    listTransactions: (q) => call('listTransactions', q || {}),
    // The relay client's older names.
    query: (id) => call('getTransaction', { id }),
    list: (q) => call('listTransactions', q || {}),
    replaceTransactionById: (id, tx) => call('replaceTransactionById', { id, tx }),
    replaceTransactionByNonce: (nonce, tx) => call('replaceTransactionByNonce', { nonce, tx }),
    cancelTransactionById: (id) => call('cancelTransactionById', { id }),
    getRelayer: () => call('getRelayer', {}),
    getRelayerStatus: () => call('getRelayerStatus', {}),
    sign: (payload) => call('sign', payload),
    signTypedData: (payload) => call('signTypedData', payload),
    call: (method, params) => {
      // Defender's client accepts both call(method, params) and call({ method, params }).
      if (method && typeof method === 'object') return call('call', { method: method.method, params: method.params || [] });
      return call('call', { method, params: params || [] });
    },
  };
}

class Relayer {
  constructor(credentials, api) {
    Object.assign(this, relayerMethods(api, relayerCredentials(credentials, false)));
  }
}

function kvClient(api, credentials) {
  if (credentials && typeof credentials === 'object' && credentials.path && !credentials.kvstoreARN && !credentials.credentials) {
    throw new Error('KeyValueStoreClient local mode ({ path }) needs a file system, which the action sandbox does not have; pass the event instead');
  }
  return {
    get: (key) => api.hostCall('kv.get', { key: String(key) }),
    put: (key, value) => {
      if (typeof value !== 'string') return Promise.reject(new TypeError('KeyValueStoreClient.put: value must be a string'));
      return api.hostCall('kv.put', { key: String(key), value });
    },
    del: (key) => api.hostCall('kv.del', { key: String(key) }),
  };
}

// ---------- ethers adapters ----------
function userEthers(api) {
  let ethers;
  try {
    ethers = api.requireFrom('/action/index.js', 'ethers');
  } catch (e) {
    throw new Error('the ethers adapters need the `ethers` package (v5 or v6) in node_modules: ' + e.message);
  }
  if (ethers && ethers.ethers) ethers = ethers.ethers;
  const v5 = !!(ethers && ethers.providers && ethers.providers.StaticJsonRpcProvider);
  const v6 = !!(ethers && ethers.JsonRpcApiProvider && ethers.AbstractSigner);
  if (!v5 && !v6) throw new Error('unsupported ethers version: ' + (ethers && ethers.version));
  return { ethers, v5 };
}

function rpcError(e) {
  const err = new Error(e.message);
  if (e.code !== undefined) err.code = e.code;
  if (e.data !== undefined) err.data = e.data;
  return err;
}

function txRequestFrom(tx, speed, validForSeconds) {
  const hex = (v) => (v === undefined || v === null ? undefined : typeof v === 'bigint' ? v.toString() : v._hex !== undefined ? BigInt(v._hex).toString() : typeof v === 'object' && v.toString ? v.toString() : String(v));
  const req = { to: tx.to || undefined, data: tx.data ? String(tx.data) : undefined, value: hex(tx.value), gasLimit: hex(tx.gasLimit) };
  if (tx.gasPrice !== undefined && tx.gasPrice !== null) req.gasPrice = hex(tx.gasPrice);
  else if (tx.maxFeePerGas !== undefined && tx.maxFeePerGas !== null) { req.maxFeePerGas = hex(tx.maxFeePerGas); req.maxPriorityFeePerGas = hex(tx.maxPriorityFeePerGas); }
  else req.speed = speed || 'fast';
  if (tx.validUntil) req.validUntil = tx.validUntil;
  // The signer's `validForSeconds` option (defender-relay-client): valid until now + that long.
  else if (validForSeconds !== undefined && validForSeconds !== null) {
    const seconds = Number(validForSeconds);
    if (!Number.isFinite(seconds) || seconds <= 0) throw new TypeError('validForSeconds must be a positive number of seconds');
    req.validUntil = new Date(Date.now() + seconds * 1000).toISOString();
  }
  if (tx.isPrivate !== undefined) req.isPrivate = tx.isPrivate;
  Object.keys(req).forEach((k) => req[k] === undefined && delete req[k]);
  return req;
}

function makeEthersAdapters(api) {
  let built;
  function build() {
    if (built) return built;
    const { ethers, v5 } = userEthers(api);
    let Provider;
    let Signer;
    if (v5) {
      Provider = class DefenderRelayProvider extends ethers.providers.StaticJsonRpcProvider {
        constructor(credentials) { super('http://defender-relayer.invalid'); this._relayer = relayerMethods(api, relayerCredentials(credentials, false)); }
        send(method, params) {
          return this._relayer.call(method, params || []).catch((e) => { throw rpcError(e); });
        }
      };
      Signer = class DefenderRelaySigner extends ethers.Signer {
        constructor(credentials, provider, options) {
          super();
          ethers.utils.defineReadOnly(this, 'provider', provider);
          this.options = options || {};
          this._relayer = relayerMethods(api, relayerCredentials(credentials, false));
        }
        async getAddress() {
          if (!this._address) this._address = ethers.utils.getAddress((await this._relayer.getRelayer()).address);
          return this._address;
        }
        connect(provider) { return new Signer(null, provider, this.options); }
        async signMessage(message) {
          const m = typeof message === 'string' ? message : ethers.utils.hexlify(message);
          return (await this._relayer.sign({ message: m })).sig;
        }
        async _signTypedData(domain, types, value) {
          const { TypedDataEncoder } = ethers.utils._TypedDataEncoder ? { TypedDataEncoder: ethers.utils._TypedDataEncoder } : {};
          const domainSeparator = TypedDataEncoder.hashDomain(domain);
          const hashStructMessage = TypedDataEncoder.from(types).hash(value);
          return (await this._relayer.signTypedData({ domainSeparator, hashStructMessage })).sig;
        }
        signTransaction() { return Promise.reject(new Error('DefenderRelaySigner cannot sign transactions offline: use sendTransaction')); }
        async sendTransaction(transaction) {
          const tx = await ethers.utils.resolveProperties(await this.populateTx(transaction));
          const sent = await this._relayer.sendTransaction(txRequestFrom(tx, this.options.speed, this.options.validForSeconds));
          return this.wrap(sent);
        }
        async populateTx(transaction) {
          const tx = await ethers.utils.resolveProperties(this.checkTransaction(transaction));
          if (tx.gasLimit === undefined || tx.gasLimit === null) {
            const est = await this.provider.estimateGas(Object.assign({}, tx, { from: await this.getAddress() }));
            tx.gasLimit = est;
          }
          return tx;
        }
        wrap(sent) {
          const BN = ethers.BigNumber;
          const r = {
            hash: sent.hash, to: sent.to, from: sent.from, nonce: sent.nonce, data: sent.data,
            gasLimit: BN.from(sent.gasLimit), value: BN.from(sent.value || 0), chainId: sent.chainId,
            gasPrice: sent.gasPrice !== undefined ? BN.from(String(sent.gasPrice)) : undefined,
            maxFeePerGas: sent.maxFeePerGas !== undefined ? BN.from(String(sent.maxFeePerGas)) : undefined,
            maxPriorityFeePerGas: sent.maxPriorityFeePerGas !== undefined ? BN.from(String(sent.maxPriorityFeePerGas)) : undefined,
            confirmations: 0, transactionId: sent.transactionId,
          };
          r.wait = (confirms, timeout) => this.provider.waitForTransaction(sent.hash, confirms, timeout);
          return r;
        }
      };
    } else {
      Provider = class DefenderRelayProvider extends ethers.JsonRpcApiProvider {
        constructor(credentials) { super(undefined, { batchMaxCount: 1, staticNetwork: null }); this._relayer = relayerMethods(api, relayerCredentials(credentials, false)); }
        async _send(payload) {
          const list = Array.isArray(payload) ? payload : [payload];
          const out = [];
          for (const p of list) {
            try {
              out.push({ id: p.id, result: await this._relayer.call(p.method, p.params || []) });
            } catch (e) {
              out.push({ id: p.id, error: { code: typeof e.code === 'number' ? e.code : -32000, message: e.message, data: e.data } });
            }
          }
          return out;
        }
      };
      Signer = class DefenderRelaySigner extends ethers.AbstractSigner {
        constructor(credentials, provider, options) {
          super(provider);
          this.options = options || {};
          this._relayer = relayerMethods(api, relayerCredentials(credentials, false));
        }
        async getAddress() {
          if (!this._address) this._address = ethers.getAddress((await this._relayer.getRelayer()).address);
          return this._address;
        }
        connect(provider) { return new Signer(null, provider, this.options); }
        async signMessage(message) {
          const m = typeof message === 'string' ? message : ethers.hexlify(message);
          return (await this._relayer.sign({ message: m })).sig;
        }
        async signTypedData(domain, types, value) {
          const domainSeparator = ethers.TypedDataEncoder.hashDomain(domain);
          const hashStructMessage = ethers.TypedDataEncoder.from(types).hash(value);
          return (await this._relayer.signTypedData({ domainSeparator, hashStructMessage })).sig;
        }
        signTransaction() { return Promise.reject(new Error('DefenderRelaySigner cannot sign transactions offline: use sendTransaction')); }
        async sendTransaction(transaction) {
          const tx = await this.populateCall(transaction);
          if (tx.gasLimit === undefined || tx.gasLimit === null) tx.gasLimit = await this.provider.estimateGas(Object.assign({}, tx, { from: await this.getAddress() }));
          const sent = await this._relayer.sendTransaction(txRequestFrom(tx, this.options.speed, this.options.validForSeconds));
          const params = {
            blockNumber: null, blockHash: null, hash: sent.hash, index: 0, type: sent.maxFeePerGas !== undefined ? 2 : 0,
            to: sent.to || null, from: sent.from, nonce: sent.nonce, gasLimit: BigInt(sent.gasLimit),
            gasPrice: BigInt(String(sent.gasPrice !== undefined ? sent.gasPrice : sent.maxFeePerGas || 0)),
            maxPriorityFeePerGas: sent.maxPriorityFeePerGas !== undefined ? BigInt(String(sent.maxPriorityFeePerGas)) : null,
            maxFeePerGas: sent.maxFeePerGas !== undefined ? BigInt(String(sent.maxFeePerGas)) : null,
            maxFeePerBlobGas: null, data: sent.data, value: BigInt(String(sent.value || 0)), chainId: BigInt(sent.chainId),
            signature: ethers.Signature.from({ r: '0x' + '1'.padStart(64, '0'), s: '0x' + '1'.padStart(64, '0'), v: 27 }),
            accessList: null, blobVersionedHashes: null, authorizationList: null,
          };
          const r = new ethers.TransactionResponse(params, this.provider);
          Object.defineProperty(r, 'transactionId', { value: sent.transactionId, enumerable: true });
          return r;
        }
      };
    }
    built = { Provider, Signer };
    return built;
  }
  // Lazily built classes: the user's ethers is loaded on first use.
  function DefenderRelayProvider(credentials) { const { Provider } = build(); return new Provider(credentials); }
  function DefenderRelaySigner(credentials, provider, options) { const { Signer } = build(); return new Signer(credentials, provider, options); }
  // `x instanceof DefenderRelaySigner` holds for the signers these build, as with the classes
  // of defender-relay-client.
  Object.defineProperty(DefenderRelayProvider, Symbol.hasInstance, { value: (x) => !!built && x instanceof built.Provider });
  Object.defineProperty(DefenderRelaySigner, Symbol.hasInstance, { value: (x) => !!built && x instanceof built.Signer });
  return { DefenderRelayProvider, DefenderRelaySigner };
}

function makeWeb3Provider(api) {
  class DefenderRelayProvider {
    constructor(credentials, options) { this.options = options || {}; this.connected = true; this._relayer = relayerMethods(api, relayerCredentials(credentials, false)); }
    async request({ method, params }) {
      params = params || [];
      if (method === 'eth_accounts' || method === 'eth_requestAccounts') return [(await this._relayer.getRelayer()).address];
      if (method === 'eth_sendTransaction') {
        const tx = params[0] || {};
        const gasLimit = tx.gas || tx.gasLimit;
        const sent = await this._relayer.sendTransaction(txRequestFrom(Object.assign({}, tx, { gasLimit: gasLimit !== undefined ? BigInt(gasLimit).toString() : undefined, value: tx.value !== undefined ? BigInt(tx.value).toString() : undefined }), this.options.speed, this.options.validForSeconds));
        return sent.hash;
      }
      if (method === 'eth_sign' || method === 'personal_sign') {
        const message = method === 'eth_sign' ? params[1] : params[0];
        return (await this._relayer.sign({ message })).sig;
      }
      if (method === 'eth_signTransaction') throw new Error('DefenderRelayProvider cannot sign transactions offline');
      return this._relayer.call(method, params);
    }
    send(payload, callback) {
      if (typeof payload === 'string') return this.request({ method: payload, params: callback });
      this.request(payload).then(
        (result) => callback(null, { jsonrpc: '2.0', id: payload.id, result }),
        (e) => callback(null, { jsonrpc: '2.0', id: payload.id, error: { code: typeof e.code === 'number' ? e.code : -32000, message: e.message } }),
      );
      return undefined;
    }
    sendAsync(payload, callback) { return this.send(payload, callback); }
    supportsSubscriptions() { return false; }
    on() { return this; }
    removeListener() { return this; }
    disconnect() { return true; }
  }
  return { DefenderRelayProvider };
}

// ---------- management clients: actions, monitors, notification channels ----------
// Bound to the engine's management API (host operations `manage.*`). A client built with the
// action's event uses the run's access; one built with `{ apiKey, apiSecret }` needs a team
// API key the engine was configured with (an unknown key is refused, never the event's
// access).
function manageCredentials(c) {
  if (c && typeof c === 'object' && (c.apiKey !== undefined || c.apiSecret !== undefined)) {
    return { apiKey: c.apiKey === undefined ? undefined : String(c.apiKey), apiSecret: c.apiSecret === undefined ? undefined : String(c.apiSecret) };
  }
  const event = c && typeof c === 'object' && (c.credentials !== undefined || c.actionId !== undefined || c.autotaskId !== undefined || c.relayerARN !== undefined || c.kvstoreARN !== undefined);
  // No team key and no event: the host answers UNAUTHORIZED, as Defender's API did.
  return event ? null : {};
}

function manageCall(api, credentials) {
  return (op, arg) => api.hostCall('manage.' + op, { credentials, arg: arg === undefined ? null : arg }).catch((e) => {
    // Defender's clients threw axios-like errors: the HTTP status is on `error.response`.
    if (e && e.data && typeof e.data.status === 'number') {
      e.response = { status: e.data.status, data: { message: e.message } };
    }
    throw e;
  });
}

function unsupported(what, why) {
  const e = new Error(what + ' is not supported by this engine' + (why ? ': ' + why : ''));
  e.code = 'NOT_SUPPORTED';
  return e;
}
const rejectUnsupported = (what, why) => () => Promise.reject(unsupported(what, why));

// An id given as `{ actionId }` (defender-sdk) or as the string itself (legacy clients).
function idOf(v, field) {
  const id = v && typeof v === 'object' ? v[field] : v;
  if (typeof id !== 'string' || id === '') throw new TypeError(field + ' must be a non-empty string');
  return id;
}
const promised = (f) => function (...args) { try { return Promise.resolve(f.apply(this, args)); } catch (e) { return Promise.reject(e); } };

// Defender's Action (legacy: Autotask) from the engine's neutral shape.
function actionShape(a, legacy) {
  const o = legacy ? { autotaskId: a.actionId } : { actionId: a.actionId };
  o.name = a.name;
  o.paused = a.paused;
  o.trigger = a.trigger === null || a.trigger === undefined ? undefined : a.trigger;
  if (a.relayerId !== undefined) o.relayerId = a.relayerId;
  return o;
}
function runShape(r, legacy) {
  if (!legacy) return r;
  const o = { autotaskRunId: r.actionRunId, autotaskId: r.actionId };
  for (const k of Object.keys(r)) if (k !== 'actionRunId' && k !== 'actionId') o[k] = r[k];
  return o;
}
// Defender's subscriber (the monitor and sentinel APIs' shape).
function monitorShape(m) {
  return {
    monitorId: m.monitorId, subscriberId: m.monitorId, name: m.name, type: 'BLOCK', network: m.network, paused: m.paused,
    addressRules: [{ addresses: m.addresses, conditions: [] }],
    notifyConfig: {
      notifications: m.notificationChannels.map((id) => ({ notificationId: id })),
      autotaskId: m.actionTrigger,
    },
  };
}
function channelShape(c) {
  const o = { notificationId: c.notificationId, name: c.name };
  if (c.type !== undefined) o.type = c.type;
  return o;
}

// The one action update the engine supports: `paused`. Anything else that would change the
// action (code, name, relayer, trigger) is refused by name.
async function updateAction(call, update, legacy) {
  const idField = legacy ? 'autotaskId' : 'actionId';
  const id = idOf(update, idField);
  const current = await call('getAction', { id });
  const changed = [];
  if (update.encodedZippedCode !== undefined) changed.push('encodedZippedCode');
  if (update.name !== undefined && update.name !== current.name) changed.push('name');
  if (update.relayerId !== undefined && update.relayerId !== current.relayerId) changed.push('relayerId');
  if (update.trigger !== undefined && JSON.stringify(update.trigger) !== JSON.stringify(current.trigger === null ? undefined : current.trigger)) changed.push('trigger');
  if (changed.length) throw unsupported((legacy ? 'AutotaskClient' : 'client.action') + '.update of ' + changed.join(', '), 'only `paused` can be changed from an action');
  if (update.paused === undefined || !!update.paused === current.paused) return actionShape(current, legacy);
  return actionShape(await call('setActionPaused', { id, paused: !!update.paused }), legacy);
}

function actionClient(api, credentials) {
  const call = manageCall(api, credentials);
  const no = (m, why) => rejectUnsupported('client.action.' + m, why);
  return {
    list: promised(async () => ({ items: (await call('listActions')).map((a) => actionShape(a, false)), keyValueStoreItemsCount: 0, runsQuotaUsage: 0 })),
    get: promised(async (p) => actionShape(await call('getAction', { id: idOf(p, 'actionId') }), false)),
    runAction: promised(async (p) => runShape(await call('runAction', { id: idOf(p, 'actionId'), data: p && p.data !== undefined ? p.data : {} }), false)),
    update: promised((p) => updateAction(call, p || {}, false)),
    create: no('create', 'actions are added by the engine\'s embedder'),
    delete: no('delete', 'actions are removed by the engine\'s embedder'),
    updateCodeFromZip: no('updateCodeFromZip', 'code is uploaded by the engine\'s embedder'),
    updateCodeFromSources: no('updateCodeFromSources', 'code is uploaded by the engine\'s embedder'),
    updateCodeFromFolder: no('updateCodeFromFolder', 'code is uploaded by the engine\'s embedder'),
    getEncodedZippedCodeFromSources: no('getEncodedZippedCodeFromSources'),
    getEncodedZippedCodeFromFolder: no('getEncodedZippedCodeFromFolder'),
    listActionRuns: no('listActionRuns'),
    getActionRun: no('getActionRun'),
    createSecrets: no('createSecrets'),
    listSecrets: no('listSecrets'),
  };
}

function monitorClient(api, credentials, legacy) {
  const call = manageCall(api, credentials);
  const name = legacy ? 'SentinelClient' : 'client.monitor';
  const idField = legacy ? 'sentinelId' : 'monitorId';
  const no = (m, why) => rejectUnsupported(name + '.' + m, why);
  const pause = (paused) => promised(async (p) => monitorShape(await call('setMonitorPaused', { id: idOf(p, idField), paused })));
  const client = {
    list: promised(async () => ({ items: (await call('listMonitors')).map(monitorShape), notificationsQuotaUsage: 0, blockProcessedQuotaUsage: 0, fortaAlertsQuotaUsage: 0 })),
    get: promised(async (p) => monitorShape(await call('getMonitor', { id: idOf(p, idField) }))),
    pause: pause(true),
    unpause: pause(false),
    update: promised(async (p) => {
      const id = idOf(p, idField);
      const extra = Object.keys(p).filter((k) => k !== idField && k !== 'paused' && k !== 'type');
      if (extra.length) throw unsupported(name + '.update of ' + extra.join(', '), 'only `paused` can be changed from an action');
      if (p.paused === undefined) return monitorShape(await call('getMonitor', { id }));
      return monitorShape(await call('setMonitorPaused', { id, paused: !!p.paused }));
    }),
    listNotificationChannels: promised(async () => (await call('listChannels')).map(channelShape)),
    create: no('create', 'monitors are added by the engine\'s embedder'),
    delete: no('delete', 'monitors are removed by the engine\'s embedder'),
    createNotificationChannel: no('createNotificationChannel'),
    deleteNotificationChannel: no('deleteNotificationChannel'),
    updateNotificationChannel: no('updateNotificationChannel'),
    listBlockwatchers: no('listBlockwatchers'),
    listNetworks: no('listNetworks'),
  };
  client.getNotificationChannel = promised(async (p) => channelShape(await call('getChannel', { id: idOf(p, 'notificationId') })));
  return client;
}

function notificationChannelClient(api, credentials) {
  const call = manageCall(api, credentials);
  const no = (m) => rejectUnsupported('client.notificationChannel.' + m, 'channels are added by the engine\'s embedder');
  return {
    list: promised(async () => (await call('listChannels')).map(channelShape)),
    get: promised(async (p) => channelShape(await call('getChannel', { id: idOf(p, 'notificationId') }))),
    create: no('create'),
    update: no('update'),
    delete: no('delete'),
  };
}

function autotaskClient(api, credentials) {
  const call = manageCall(api, credentials);
  const no = (m, why) => rejectUnsupported('AutotaskClient.' + m, why);
  return {
    list: promised(async () => ({ items: (await call('listActions')).map((a) => actionShape(a, true)), keyValueStoreItemsCount: 0, runsQuotaUsage: 0 })),
    get: promised(async (id) => actionShape(await call('getAction', { id: idOf(id, 'autotaskId') }), true)),
    runAutotask: promised(async (id, data) => runShape(await call('runAction', { id: idOf(id, 'autotaskId'), data: data === undefined ? {} : data }), true)),
    update: promised((p) => updateAction(call, p || {}, true)),
    create: no('create', 'actions are added by the engine\'s embedder'),
    delete: no('delete', 'actions are removed by the engine\'s embedder'),
    updateCodeFromZip: no('updateCodeFromZip', 'code is uploaded by the engine\'s embedder'),
    updateCodeFromSources: no('updateCodeFromSources', 'code is uploaded by the engine\'s embedder'),
    updateCodeFromFolder: no('updateCodeFromFolder', 'code is uploaded by the engine\'s embedder'),
    listAutotaskRuns: no('listAutotaskRuns'),
    getAutotaskRun: no('getAutotaskRun'),
    createSecrets: no('createSecrets'),
  };
}

// The admin client: its proposal operations belong to a later version. Every method (known
// or not) rejects with a clear error rather than being undefined.
function adminClient(name) {
  return new Proxy({}, {
    get(_t, p) {
      // Not a thenable, and no symbol-keyed protocol.
      if (typeof p === 'symbol' || p === 'then' || p === 'toJSON') return undefined;
      return () => Promise.reject(unsupported(name + '.' + String(p), 'proposals are not supported yet'));
    },
  });
}

function defenderSdk(api) {
  class Defender {
    constructor(credentials) {
      const adapters = makeEthersAdapters(api);
      const relayer = relayerCredentials(credentials, true);
      // The adapters take the relay client's shape of credentials.
      const forAdapters = relayer ? { apiKey: relayer.apiKey, apiSecret: relayer.apiSecret } : credentials;
      const methods = relayerMethods(api, relayer);
      this.relaySigner = Object.assign({}, methods, {
        getProvider: (options) => adapters.DefenderRelayProvider(forAdapters, options),
        getSigner: (provider, options) => adapters.DefenderRelaySigner(forAdapters, provider, options),
      });
      this.relay = this.relaySigner;
      this.keyValueStore = kvClient(api, credentials);
      const manage = manageCredentials(credentials);
      this.action = actionClient(api, manage);
      this.monitor = monitorClient(api, manage, false);
      this.notificationChannel = notificationChannelClient(api, manage);
      this.proposal = adminClient('client.proposal');
    }
  }
  return { Defender };
}

const modules = {
  'defender-relay-client': (module, _exports, api) => {
    module.exports = { Relayer: class extends Relayer { constructor(c) { super(c, api); } } };
  },
  'defender-relay-client/lib/relayer': (module, _exports, api) => {
    module.exports = { Relayer: class extends Relayer { constructor(c) { super(c, api); } } };
  },
  'defender-relay-client/lib/ethers': (module, _exports, api) => { module.exports = makeEthersAdapters(api); },
  'defender-relay-client/lib/web3': (module, _exports, api) => { module.exports = makeWeb3Provider(api); },
  'defender-kvstore-client': (module, _exports, api) => {
    module.exports = { KeyValueStoreClient: function KeyValueStoreClient(c) { return kvClient(api, c); } };
  },
  '@openzeppelin/defender-sdk': (module, _exports, api) => { module.exports = defenderSdk(api); },
  '@openzeppelin/defender-sdk-action-client': (module, _exports, api) => {
    module.exports = { ActionClient: function ActionClient(c) { return actionClient(api, manageCredentials(c)); } };
  },
  '@openzeppelin/defender-sdk-monitor-client': (module, _exports, api) => {
    module.exports = { MonitorClient: function MonitorClient(c) { return monitorClient(api, manageCredentials(c), false); } };
  },
  '@openzeppelin/defender-sdk-notification-channel-client': (module, _exports, api) => {
    module.exports = { NotificationChannelClient: function NotificationChannelClient(c) { return notificationChannelClient(api, manageCredentials(c)); } };
  },
  'defender-autotask-client': (module, _exports, api) => {
    module.exports = { AutotaskClient: function AutotaskClient(c) { return autotaskClient(api, manageCredentials(c)); } };
  },
  'defender-sentinel-client': (module, _exports, api) => {
    module.exports = { SentinelClient: function SentinelClient(c) { return monitorClient(api, manageCredentials(c), true); } };
  },
  'defender-admin-client': (module) => {
    module.exports = { AdminClient: function AdminClient() { return adminClient('AdminClient'); } };
  },
  // Node's `module`: what an ES module needs to load CommonJS and JSON (`createRequire`).
  'module': (module, _exports, api) => {
    const createRequire = (filename) => api.createRequire(filename);
    module.exports = { createRequire, isBuiltin: (n) => api.isBuiltin(String(n)) };
  },
};
for (const k of ['defender-relay-client', 'defender-relay-client/lib/relayer', 'defender-relay-client/lib/ethers', 'defender-relay-client/lib/web3', 'defender-kvstore-client',
  'defender-autotask-client', 'defender-sentinel-client', 'defender-admin-client']) {
  modules['@openzeppelin/' + k] = modules[k];
}
return modules;
})()
