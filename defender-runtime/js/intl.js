// `Intl` (NumberFormat, DateTimeFormat, PluralRules, Collator) and the locale-aware methods of
// the intrinsics, evaluated in a run's context on first use (see the lazy globals of
// js/prelude.js). The options are read here as ECMA-402 reads them (order, coercions, errors
// as V8 words them); the host (src/sandbox/intl/) formats with ICU4X from the resolved
// record. The prelude calls this function once; user code never sees `host`.
(function intl(shared) {
  'use strict';
  const { host } = shared;
  const apply = Reflect.apply;
  const defineProperty = Object.defineProperty;
  const JSONstringify = JSON.stringify;
  const arrayIncludes = Array.prototype.includes;
  const arrayPush = Array.prototype.push;
  const includes = (list, v) => apply(arrayIncludes, list, [v]);
  const isObject = (v) => v !== null && (typeof v === 'object' || typeof v === 'function');

  // ---------- locales ----------
  // ECMA-402 CanonicalizeLocaleList.
  function canonicalLocales(locales) {
    if (locales === undefined) return [];
    if (locales === null) throw new TypeError('Cannot convert undefined or null to object');
    const list = typeof locales === 'string' ? [locales] : Object(locales);
    const len = Math.min(Math.max(Math.floor(Number(list.length)) || 0, 0), 1000);
    const seen = [];
    for (let k = 0; k < len; k++) {
      if (!(k in list)) continue;
      const v = list[k];
      if (typeof v !== 'string' && !isObject(v)) throw new TypeError('Language ID should be string or object.');
      const tag = host.intlCanonical(String(v));
      if (!includes(seen, tag)) apply(arrayPush, seen, [tag]);
    }
    return seen;
  }
  const resolveLocale = (locales) => host.intlLocale(canonicalLocales(locales).join(' '));
  function supportedLocalesOf(locales, options) {
    const list = canonicalLocales(locales);
    if (options !== undefined) getOption(toOptions(options), 'localeMatcher', ['lookup', 'best fit'], 'best fit', 'Intl');
    const out = [];
    for (const tag of list) if (host.intlSupported(tag)) apply(arrayPush, out, [tag]);
    return out;
  }

  // ---------- options ----------
  function toOptions(options) {
    if (options === undefined) return Object.create(null);
    if (options === null) throw new TypeError('Cannot convert undefined or null to object');
    return Object(options);
  }
  // ECMA-402 GetOption for a string option (`values` undefined: any string).
  function getOption(o, prop, values, fallback, service) {
    let v = o[prop];
    if (v === undefined) return fallback;
    v = String(v);
    if (values !== undefined && !includes(values, v)) {
      throw new RangeError('Value ' + v + ' out of range for ' + service + ' options property ' + prop);
    }
    return v;
  }
  function getBoolean(o, prop) {
    const v = o[prop];
    return v === undefined ? undefined : Boolean(v);
  }
  function defaultNumberOption(v, min, max, fallback, prop) {
    if (v === undefined) return fallback;
    v = Number(v);
    if (Number.isNaN(v) || v < min || v > max) throw new RangeError(prop + ' value is out of range.');
    return Math.floor(v);
  }
  // ECMA-402 SetNumberFormatDigitOptions (2023).
  function digitOptions(o, mnfdDefault, mxfdDefault, notation, service) {
    const mnid = defaultNumberOption(o.minimumIntegerDigits, 1, 21, 1, 'minimumIntegerDigits');
    let mnfd = o.minimumFractionDigits;
    let mxfd = o.maximumFractionDigits;
    let mnsd = o.minimumSignificantDigits;
    let mxsd = o.maximumSignificantDigits;
    const priority = getOption(o, 'roundingPriority', ['auto', 'morePrecision', 'lessPrecision'], 'auto', service);
    const hasSd = mnsd !== undefined || mxsd !== undefined;
    const hasFd = mnfd !== undefined || mxfd !== undefined;
    let needSd = true;
    let needFd = true;
    if (priority === 'auto') {
      needSd = hasSd;
      if (needSd || (!hasFd && notation === 'compact')) needFd = false;
    }
    if (needSd) {
      if (hasSd) {
        mnsd = defaultNumberOption(mnsd, 1, 21, 1, 'minimumSignificantDigits');
        mxsd = defaultNumberOption(mxsd, mnsd, 21, 21, 'maximumSignificantDigits');
      } else {
        mnsd = 1;
        mxsd = 21;
      }
    }
    if (needFd) {
      if (hasFd) {
        mnfd = defaultNumberOption(mnfd, 0, 100, undefined, 'minimumFractionDigits');
        mxfd = defaultNumberOption(mxfd, 0, 100, undefined, 'maximumFractionDigits');
        if (mnfd === undefined) mnfd = Math.min(mnfdDefault, mxfd);
        else if (mxfd === undefined) mxfd = Math.max(mxfdDefault, mnfd);
        else if (mnfd > mxfd) throw new RangeError('maximumFractionDigits value is out of range.');
      } else {
        mnfd = mnfdDefault;
        mxfd = mxfdDefault;
      }
    }
    let roundingType;
    if (!needSd && !needFd) {
      mnfd = 0; mxfd = 0; mnsd = 1; mxsd = 2;
      roundingType = 'morePrecision';
    } else if (priority === 'auto') {
      roundingType = hasSd ? 'significantDigits' : 'fractionDigits';
    } else {
      roundingType = priority;
    }
    return {
      minimumIntegerDigits: mnid,
      minimumFractionDigits: mnfd === undefined ? 0 : mnfd,
      maximumFractionDigits: mxfd === undefined ? 0 : mxfd,
      minimumSignificantDigits: mnsd === undefined ? 1 : mnsd,
      maximumSignificantDigits: mxsd === undefined ? 21 : mxsd,
      roundingType,
      priority,
    };
  }

  // The script's value as ECMA-402's ToIntlMathematicalValue reads it: a number, or the exact
  // digits of a BigInt or of a decimal string.
  const DECIMAL = /^[\t\n\v\f\r \u00a0\ufeff]*[+-]?(\d+\.?\d*|\.\d+)[\t\n\v\f\r \u00a0\ufeff]*$/;
  const bigintToString = BigInt.prototype.toString;
  function mathematicalValue(x) {
    if (isObject(x)) {
      const p = x.valueOf();
      x = isObject(p) ? Number(x) : p;
    }
    if (typeof x === 'bigint') return apply(bigintToString, x, []);
    if (typeof x === 'string') return DECIMAL.test(x) ? x : Number(x);
    return Number(x);
  }

  // The internal state of each object, kept where the script cannot reach or forge it.
  const unwrap = (name, method) => (v, State) => {
    if (!isObject(v) || !(State.has(v))) {
      throw new TypeError('Method ' + name + '.prototype.' + method + ' called on incompatible receiver ' + String(v));
    }
    return State.get(v);
  };
  // The state of each object, where the script can neither reach nor forge it.
  const WeakMap = shared.intrinsics(1).WeakMap;
  function makeStates() {
    const map = new WeakMap();
    return { has: (o) => map.has(o), get: (o) => map.get(o), set: (o, s) => { map.set(o, s); } };
  }

  // Defines the methods and getters of a service class as built-ins have them.
  function methods(proto, tag, defs) {
    for (const name of Object.keys(defs)) {
      const d = Object.getOwnPropertyDescriptor(defs, name);
      if (d.get) defineProperty(proto, name, { get: d.get, configurable: true, enumerable: false });
      else defineProperty(proto, name, { value: d.value, writable: true, configurable: true, enumerable: false });
    }
    defineProperty(proto, Symbol.toStringTag, { value: tag, configurable: true });
  }
  function service(name, init, statics, needsNew) {
    const States = makeStates();
    const ctor = {
      [name]: function (locales, options) {
        if (needsNew && new.target === undefined) throw new TypeError("Constructor Intl." + name + " requires 'new'");
        const self = new.target === undefined ? Object.create(ctor.prototype)
          : Object.create(isObject(new.target.prototype) ? new.target.prototype : ctor.prototype);
        States.set(self, init(locales, options));
        return self;
      },
    }[name];
    defineProperty(ctor, 'length', { value: 0 });
    defineProperty(ctor, 'supportedLocalesOf', {
      value: { supportedLocalesOf(locales, options) { return supportedLocalesOf(locales, options); } }.supportedLocalesOf,
      writable: true, configurable: true,
    });
    if (statics) statics(ctor);
    return { ctor, States, state: unwrap('Intl.' + name, 'method') };
  }
  // Parts from the host ([type, value] pairs) as `formatToParts` objects.
  const toParts = (pairs) => pairs.map((p) => ({ type: p[0], value: p[1] }));

  // ---------- NumberFormat ----------
  const NF = 'Intl.NumberFormat';
  function initNumberFormat(locales, options) {
    const locale = resolveLocale(locales);
    const o = toOptions(options);
    getOption(o, 'localeMatcher', ['lookup', 'best fit'], 'best fit', NF);
    const nu = getOption(o, 'numberingSystem', undefined, undefined, NF);
    if (nu !== undefined && !/^[a-zA-Z0-9]{3,8}(-[a-zA-Z0-9]{3,8})*$/.test(nu)) throw new RangeError('Invalid numberingSystem : ' + nu);
    const style = getOption(o, 'style', ['decimal', 'percent', 'currency', 'unit'], 'decimal', NF);
    let currency = getOption(o, 'currency', undefined, undefined, NF);
    if (currency !== undefined && !/^[A-Za-z]{3}$/.test(currency)) throw new RangeError('Invalid currency code : ' + currency);
    const currencyDisplay = getOption(o, 'currencyDisplay', ['code', 'symbol', 'narrowSymbol', 'name'], 'symbol', NF);
    const currencySign = getOption(o, 'currencySign', ['standard', 'accounting'], 'standard', NF);
    const unit = getOption(o, 'unit', undefined, undefined, NF);
    if (style === 'currency' && currency === undefined) throw new TypeError('Currency code is required with currency style.');
    if (style === 'unit') {
      if (unit === undefined) throw new TypeError('Unit is required with unit style.');
      throw new RangeError("style 'unit' is not supported in the sandbox");
    }
    let cDigits = 2;
    if (style === 'currency') {
      currency = currency.toUpperCase();
      cDigits = host.intlCurrencyDigits(currency);
    }
    const notation = getOption(o, 'notation', ['standard', 'scientific', 'engineering', 'compact'], 'standard', NF);
    if (notation === 'scientific' || notation === 'engineering') {
      throw new RangeError("notation '" + notation + "' is not supported in the sandbox");
    }
    const mnfdDefault = style === 'currency' && notation !== 'compact' ? cDigits : 0;
    const mxfdDefault = style === 'currency' && notation !== 'compact' ? cDigits : style === 'percent' ? 0 : 3;
    const digits = digitOptions(o, mnfdDefault, mxfdDefault, notation, NF);
    const compactDisplay = getOption(o, 'compactDisplay', ['short', 'long'], 'short', NF);
    const defaultGrouping = notation === 'compact' ? 'min2' : 'auto';
    let useGrouping = o.useGrouping;
    if (useGrouping === undefined) useGrouping = defaultGrouping;
    else if (useGrouping === true) useGrouping = 'always';
    else if (!useGrouping) useGrouping = false;
    else {
      useGrouping = String(useGrouping);
      if (useGrouping === 'true' || useGrouping === 'false') useGrouping = defaultGrouping;
      else if (!includes(['min2', 'auto', 'always'], useGrouping)) {
        throw new RangeError('Value ' + useGrouping + ' out of range for ' + NF + ' options property useGrouping');
      }
    }
    const signDisplay = getOption(o, 'signDisplay', ['auto', 'never', 'always', 'exceptZero', 'negative'], 'auto', NF);
    const trailingZeroDisplay = getOption(o, 'trailingZeroDisplay', ['auto', 'stripIfInteger'], 'auto', NF);
    const record = JSONstringify({
      style, currency: style === 'currency' ? currency : null, currencyDisplay, currencySign,
      notation, compactDisplay,
      minimumIntegerDigits: digits.minimumIntegerDigits,
      minimumFractionDigits: digits.minimumFractionDigits,
      maximumFractionDigits: digits.maximumFractionDigits,
      minimumSignificantDigits: digits.minimumSignificantDigits,
      maximumSignificantDigits: digits.maximumSignificantDigits,
      roundingType: digits.roundingType,
      useGrouping: useGrouping === false ? 'false' : useGrouping,
      signDisplay, trailingZeroDisplay,
    });
    host.intl('number', locale, record);
    const resolved = { locale, numberingSystem: 'latn', style };
    if (style === 'currency') {
      resolved.currency = currency;
      resolved.currencyDisplay = currencyDisplay;
      resolved.currencySign = currencySign;
    }
    resolved.minimumIntegerDigits = digits.minimumIntegerDigits;
    if (digits.roundingType !== 'significantDigits') {
      resolved.minimumFractionDigits = digits.minimumFractionDigits;
      resolved.maximumFractionDigits = digits.maximumFractionDigits;
    }
    if (digits.roundingType !== 'fractionDigits') {
      resolved.minimumSignificantDigits = digits.minimumSignificantDigits;
      resolved.maximumSignificantDigits = digits.maximumSignificantDigits;
    }
    resolved.useGrouping = useGrouping;
    resolved.notation = notation;
    if (notation === 'compact') resolved.compactDisplay = compactDisplay;
    resolved.signDisplay = signDisplay;
    resolved.roundingMode = 'halfExpand';
    resolved.roundingIncrement = 1;
    resolved.trailingZeroDisplay = trailingZeroDisplay;
    resolved.roundingPriority = digits.priority;
    return { locale, record, resolved, bound: undefined };
  }
  const NumberFormat = service('NumberFormat', initNumberFormat);
  const formatNumber = (s, x, parts) => host.intl('number', s.locale, s.record, mathematicalValue(x), parts);
  methods(NumberFormat.ctor.prototype, NF, {
    get format() {
      const s = NumberFormat.state(this, NumberFormat.States);
      if (s.bound === undefined) s.bound = (x) => formatNumber(s, x, false);
      return s.bound;
    },
    formatToParts(x) { return toParts(formatNumber(NumberFormat.state(this, NumberFormat.States), x, true)); },
    resolvedOptions() { return Object.assign({}, NumberFormat.state(this, NumberFormat.States).resolved); },
  });

  // ---------- DateTimeFormat ----------
  const DTF = 'Intl.DateTimeFormat';
  const DATE_FIELDS = ['weekday', 'era', 'year', 'month', 'day'];
  const TIME_FIELDS = ['dayPeriod', 'hour', 'minute', 'second', 'fractionalSecondDigits'];
  function initDateTimeFormat(locales, options, required, defaults) {
    required = required || 'any';
    defaults = defaults || 'date';
    const locale = resolveLocale(locales);
    const o = toOptions(options);
    getOption(o, 'localeMatcher', ['lookup', 'best fit'], 'best fit', DTF);
    const calendar = getOption(o, 'calendar', undefined, undefined, DTF);
    const nu = getOption(o, 'numberingSystem', undefined, undefined, DTF);
    let hour12 = getBoolean(o, 'hour12');
    const hourCycle = getOption(o, 'hourCycle', ['h11', 'h12', 'h23', 'h24'], undefined, DTF);
    if (hour12 === undefined && hourCycle !== undefined) hour12 = hourCycle === 'h11' || hourCycle === 'h12';
    let timeZone = o.timeZone;
    timeZone = timeZone === undefined ? 'UTC' : host.intlTimeZone(String(timeZone));
    const f = {};
    f.weekday = getOption(o, 'weekday', ['narrow', 'short', 'long'], undefined, DTF);
    f.era = getOption(o, 'era', ['narrow', 'short', 'long'], undefined, DTF);
    f.year = getOption(o, 'year', ['2-digit', 'numeric'], undefined, DTF);
    f.month = getOption(o, 'month', ['2-digit', 'numeric', 'narrow', 'short', 'long'], undefined, DTF);
    f.day = getOption(o, 'day', ['2-digit', 'numeric'], undefined, DTF);
    f.dayPeriod = getOption(o, 'dayPeriod', ['narrow', 'short', 'long'], undefined, DTF);
    f.hour = getOption(o, 'hour', ['2-digit', 'numeric'], undefined, DTF);
    f.minute = getOption(o, 'minute', ['2-digit', 'numeric'], undefined, DTF);
    f.second = getOption(o, 'second', ['2-digit', 'numeric'], undefined, DTF);
    f.fractionalSecondDigits = defaultNumberOption(o.fractionalSecondDigits, 1, 3, undefined, 'fractionalSecondDigits');
    f.timeZoneName = getOption(o, 'timeZoneName', ['short', 'long', 'shortOffset', 'longOffset', 'shortGeneric', 'longGeneric'], undefined, DTF);
    getOption(o, 'formatMatcher', ['basic', 'best fit'], 'best fit', DTF);
    const dateStyle = getOption(o, 'dateStyle', ['full', 'long', 'medium', 'short'], undefined, DTF);
    const timeStyle = getOption(o, 'timeStyle', ['full', 'long', 'medium', 'short'], undefined, DTF);
    const styled = dateStyle !== undefined || timeStyle !== undefined;
    if (styled) {
      for (const k of Object.keys(f)) {
        if (f[k] !== undefined) throw new TypeError("Can't set option " + k + ' when ' + (dateStyle !== undefined ? 'dateStyle' : 'timeStyle') + ' is used');
      }
      if (required === 'date' && timeStyle !== undefined) throw new TypeError("Invalid option : timeStyle");
      if (required === 'time' && dateStyle !== undefined) throw new TypeError("Invalid option : dateStyle");
    } else {
      let needDefaults = true;
      if (required === 'date' || required === 'any') for (const k of DATE_FIELDS) if (f[k] !== undefined) needDefaults = false;
      if (required === 'time' || required === 'any') for (const k of TIME_FIELDS) if (f[k] !== undefined) needDefaults = false;
      if (needDefaults && (defaults === 'date' || defaults === 'all')) f.year = f.month = f.day = 'numeric';
      if (needDefaults && (defaults === 'time' || defaults === 'all')) f.hour = f.minute = f.second = 'numeric';
    }
    if (f.dayPeriod !== undefined) throw new RangeError("dayPeriod is not supported in the sandbox");
    const hasHour = f.hour !== undefined || (timeStyle !== undefined);
    const record = JSONstringify({
      timeZone, hour12: hour12 === undefined ? null : hour12,
      dateStyle: dateStyle === undefined ? null : dateStyle,
      timeStyle: timeStyle === undefined ? null : timeStyle,
      weekday: f.weekday || null, era: f.era || null, year: f.year || null, month: f.month || null,
      day: f.day || null, hour: f.hour || null, minute: f.minute || null, second: f.second || null,
      fractionalSecondDigits: f.fractionalSecondDigits === undefined ? null : f.fractionalSecondDigits,
      timeZoneName: f.timeZoneName || null,
    });
    host.intl('date', locale, record);
    const resolved = { locale, calendar: 'gregory', numberingSystem: 'latn', timeZone };
    void calendar; void nu;
    if (hasHour) {
      const h12 = hour12 === undefined ? /^(en|es-US|hi|ar|ko|zh-TW)/.test(locale) && !/^en-GB/.test(locale) : hour12;
      resolved.hourCycle = h12 ? 'h12' : 'h23';
      resolved.hour12 = h12;
    }
    for (const k of ['weekday', 'era', 'year', 'month', 'day', 'hour', 'minute', 'second', 'fractionalSecondDigits', 'timeZoneName']) {
      if (f[k] !== undefined) resolved[k] = k === 'minute' || k === 'second' ? (f.hour !== undefined || f[k] === '2-digit' ? '2-digit' : f[k]) : f[k];
    }
    if (dateStyle !== undefined) resolved.dateStyle = dateStyle;
    if (timeStyle !== undefined) resolved.timeStyle = timeStyle;
    return { locale, record, resolved, bound: undefined };
  }
  const DateTimeFormat = service('DateTimeFormat', (l, o) => initDateTimeFormat(l, o));
  const dateNow = Date.now;
  function timeValue(date) {
    const x = date === undefined ? dateNow() : Number(date);
    if (!Number.isFinite(x) || Math.abs(x) > 8.64e15) throw new RangeError('Invalid time value');
    return Math.trunc(x) + 0;
  }
  const formatDate = (s, date, parts) => host.intl('date', s.locale, s.record, timeValue(date), parts);
  methods(DateTimeFormat.ctor.prototype, DTF, {
    get format() {
      const s = DateTimeFormat.state(this, DateTimeFormat.States);
      if (s.bound === undefined) s.bound = (d) => formatDate(s, d, false);
      return s.bound;
    },
    formatToParts(d) { return toParts(formatDate(DateTimeFormat.state(this, DateTimeFormat.States), d, true)); },
    resolvedOptions() { return Object.assign({}, DateTimeFormat.state(this, DateTimeFormat.States).resolved); },
  });

  // ---------- PluralRules ----------
  const PR = 'Intl.PluralRules';
  function initPluralRules(locales, options) {
    const locale = resolveLocale(locales);
    const o = toOptions(options);
    getOption(o, 'localeMatcher', ['lookup', 'best fit'], 'best fit', PR);
    const type = getOption(o, 'type', ['cardinal', 'ordinal'], 'cardinal', PR);
    const d = digitOptions(o, 0, 3, 'standard', PR);
    const record = JSONstringify({
      type, minimumIntegerDigits: d.minimumIntegerDigits, minimumFractionDigits: d.minimumFractionDigits,
      maximumFractionDigits: d.maximumFractionDigits, minimumSignificantDigits: d.minimumSignificantDigits,
      maximumSignificantDigits: d.maximumSignificantDigits, roundingType: d.roundingType,
    });
    host.intl('plural', locale, record);
    const resolved = { locale, type, minimumIntegerDigits: d.minimumIntegerDigits };
    if (d.roundingType !== 'significantDigits') {
      resolved.minimumFractionDigits = d.minimumFractionDigits;
      resolved.maximumFractionDigits = d.maximumFractionDigits;
    }
    if (d.roundingType !== 'fractionDigits') {
      resolved.minimumSignificantDigits = d.minimumSignificantDigits;
      resolved.maximumSignificantDigits = d.maximumSignificantDigits;
    }
    return { locale, record, resolved };
  }
  const PluralRules = service('PluralRules', initPluralRules, undefined, true);
  methods(PluralRules.ctor.prototype, PR, {
    select(n) {
      const s = PluralRules.state(this, PluralRules.States);
      return host.intl('plural', s.locale, s.record, Number(n));
    },
    resolvedOptions() {
      const s = PluralRules.state(this, PluralRules.States);
      const r = Object.assign({}, s.resolved);
      r.pluralCategories = host.intl('plural', s.locale, s.record, true);
      return r;
    },
  });
  // PluralRules must be called with `new`.
  const PluralRulesCtor = PluralRules.ctor;

  // ---------- Collator ----------
  const CO = 'Intl.Collator';
  function initCollator(locales, options) {
    const locale = resolveLocale(locales);
    const o = toOptions(options);
    const usage = getOption(o, 'usage', ['sort', 'search'], 'sort', CO);
    getOption(o, 'localeMatcher', ['lookup', 'best fit'], 'best fit', CO);
    getOption(o, 'collation', undefined, undefined, CO);
    const numeric = getBoolean(o, 'numeric') === true;
    const caseFirst = getOption(o, 'caseFirst', ['upper', 'lower', 'false'], 'false', CO);
    const sensitivity = getOption(o, 'sensitivity', ['base', 'accent', 'case', 'variant'], 'variant', CO);
    const ignorePunctuation = getBoolean(o, 'ignorePunctuation') === true;
    const record = JSONstringify({ sensitivity, numeric, ignorePunctuation });
    host.intl('collator', locale, record);
    const resolved = { locale, usage, sensitivity, ignorePunctuation, collation: 'default', numeric, caseFirst };
    return { locale, record, resolved, bound: undefined };
  }
  const Collator = service('Collator', initCollator);
  const compare = (s, a, b) => host.intl('collator', s.locale, s.record, String(a), String(b));
  methods(Collator.ctor.prototype, CO, {
    get compare() {
      const s = Collator.state(this, Collator.States);
      if (s.bound === undefined) s.bound = (a, b) => compare(s, a, b);
      return s.bound;
    },
    resolvedOptions() { return Object.assign({}, Collator.state(this, Collator.States).resolved); },
  });

  // ---------- the Intl object ----------
  const Intl = {};
  const intlMethods = {
    getCanonicalLocales(locales) { return canonicalLocales(locales); },
  };
  defineProperty(Intl, 'getCanonicalLocales', { value: intlMethods.getCanonicalLocales, writable: true, configurable: true });
  for (const [name, ctor] of [['DateTimeFormat', DateTimeFormat.ctor], ['NumberFormat', NumberFormat.ctor],
    ['Collator', Collator.ctor], ['PluralRules', PluralRulesCtor]]) {
    defineProperty(ctor.prototype, 'constructor', { value: ctor, writable: true, configurable: true });
    defineProperty(Intl, name, { value: ctor, writable: true, configurable: true });
  }
  defineProperty(Intl, Symbol.toStringTag, { value: 'Intl', configurable: true });

  // ---------- the locale-aware methods of the intrinsics ----------
  const numberValueOf = Number.prototype.valueOf;
  const bigintValueOf = BigInt.prototype.valueOf;
  let defaultCollator = null;
  const locale = {
    number(self, locales, options) {
      const x = apply(numberValueOf, self, []);
      const s = NumberFormat.state(new NumberFormat.ctor(locales, options), NumberFormat.States);
      return formatNumber(s, x, false);
    },
    bigint(self, locales, options) {
      const x = apply(bigintValueOf, self, []);
      const s = NumberFormat.state(new NumberFormat.ctor(locales, options), NumberFormat.States);
      return formatNumber(s, x, false);
    },
    // `kind`: 'any' (toLocaleString), 'date' or 'time'; `getTime` is the original method.
    date(self, getTime, locales, options, kind) {
      const t = apply(getTime, self, []);
      if (Number.isNaN(t)) return 'Invalid Date';
      const defaults = kind === 'any' ? 'all' : kind;
      const s = initDateTimeFormat(locales, options, kind, defaults);
      return formatDate(s, t, false);
    },
    compare(self, that, locales, options) {
      if (self === undefined || self === null) throw new TypeError('String.prototype.localeCompare called on null or undefined');
      const a = String(self);
      const b = String(that);
      let s;
      if (locales === undefined && options === undefined) {
        if (defaultCollator === null) defaultCollator = initCollator(undefined, undefined);
        s = defaultCollator;
      } else {
        s = initCollator(locales, options);
      }
      return compare(s, a, b);
    },
  };
  return { Intl, locale };
})
