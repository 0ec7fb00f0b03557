// escalator's console: the API's face. It reads the HTTP API (with the token
// in an Authorization header, never in a URL) and follows the outcome stream
// (GET /v1/events) with fetch and a stream reader, so that the header can be
// sent; nothing else is fetched. No framework, no build step.
'use strict';
(() => {
  const KEY_TOKEN = 'escalator.token'; // sessionStorage: this tab only
  const KEY_BY = 'escalator.by'; // localStorage: who you are, asked once
  const ENDED_SHOWN = 15;
  const HORIZON = 14 * 24 * 3600 * 1000; // the on-call view's hand-offs

  const S = {
    token: sessionStorage.getItem(KEY_TOKEN) || '',
    authed: false,
    lists: { active: [], acknowledged: [], ended: [] },
    details: new Map(), // escalation id → {timeline: [...], loading}
    lastEventID: '',
    streamGen: 0,
    streamAbort: null,
    pending: [], // actions waiting for their outcome: {match(o), done(o)}
    recent: [], // the last outcomes, for an answer that comes after its outcome
    route: '',
    oneID: '', // the escalation the detail view shows (its id)
    oneRef: '', // as named in the address
  };

  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;

  // h builds an element: h('a', {href: '#/', class: 'x'}, 'text', child...).
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'data') Object.assign(el.dataset, v);
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid != null && kid !== false) el.append(kid instanceof Node ? kid : String(kid));
    }
    return el;
  }

  // ---- Times: the viewer's zone on the page, the policy's or roster's on hover.

  const localFmt = new Intl.DateTimeFormat(undefined, {
    weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
  const zoneFmts = new Map();
  function inZone(d, zone) {
    try {
      let f = zoneFmts.get(zone);
      if (!f) {
        f = new Intl.DateTimeFormat(undefined, {
          timeZone: zone, year: 'numeric', weekday: 'short', day: 'numeric', month: 'short',
          hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short',
        });
        zoneFmts.set(zone, f);
      }
      return f.format(d) + ' (' + zone + ')';
    } catch {
      return d.toISOString();
    }
  }
  const zero = (iso) => !iso || iso.startsWith('0001-');
  function when(iso, zone) {
    const d = new Date(iso);
    return h('time', { datetime: d.toISOString(), title: inZone(d, zone || 'UTC') }, localFmt.format(d));
  }
  function span(ms) {
    const s = Math.round(Math.abs(ms) / 1000);
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm ' + String(s % 60).padStart(2, '0') + 's';
    if (s < 86400) return Math.floor(s / 3600) + 'h ' + String(Math.floor((s % 3600) / 60)).padStart(2, '0') + 'm';
    return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
  }
  // countdown is a time that counts down to iso, once a second (on the
  // page only: no request).
  function countdown(iso, zone) {
    const el = h('time', { class: 'countdown', datetime: iso, title: inZone(new Date(iso), zone || 'UTC'), data: { countdown: iso } });
    tick(el);
    return el;
  }
  function tick(el) {
    const ms = Date.parse(el.dataset.countdown) - Date.now();
    el.textContent = ms > 0 ? 'in ' + span(ms) : ms > -1000 ? 'now' : span(ms) + ' ago';
  }
  setInterval(() => document.querySelectorAll('[data-countdown]').forEach(tick), 1000);

  // ---- The API.

  class AuthError extends Error {}

  // api calls the API; a 401 shows the login (unless quiet) and throws an
  // AuthError, another failure an Error with the API's message.
  async function api(method, path, body, { quiet = false } = {}) {
    const headers = { Accept: 'application/json' };
    if (S.token) headers.Authorization = 'Bearer ' + S.token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let resp;
    try {
      resp = await fetch(path, { method, headers, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      throw new Error('the worker does not answer (' + err.message + ')');
    }
    if (resp.status === 401) {
      if (!quiet) showLogin('The worker asks for a token.');
      throw new AuthError('unauthorized');
    }
    let data = null;
    try {
      data = await resp.json();
    } catch {
      /* not JSON */
    }
    if (!resp.ok) {
      const err = new Error((data && data.error) || resp.status + ' ' + resp.statusText);
      err.status = resp.status;
      err.data = data;
      throw err;
    }
    return data;
  }

  // ---- Signing in: try without a token first (a worker on loopback with no
  // --http-token opens directly); on 401 ask for it.

  async function boot() {
    try {
      await api('GET', '/v1/escalations?limit=1', undefined, { quiet: true });
    } catch (err) {
      if (err instanceof AuthError) {
        if (S.token) {
          S.token = '';
          sessionStorage.removeItem(KEY_TOKEN);
        }
        showLogin('');
      } else {
        notice('Cannot reach the worker: ' + err.message + '. Reload to try again.');
      }
      return;
    }
    signedIn();
  }

  function showLogin(message) {
    S.authed = false;
    stopStream();
    $('nav').hidden = true;
    $('signout').hidden = true;
    showView('login');
    loginError(message);
    $('login-token').focus();
  }
  function loginError(message) {
    $('login-error').textContent = message;
    $('login-error').hidden = !message;
  }
  $('login').addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = $('login-token').value.trim();
    if (!token) {
      loginError('Type the token.');
      return;
    }
    $('login-submit').disabled = true;
    S.token = token;
    try {
      await api('GET', '/v1/escalations?limit=1', undefined, { quiet: true });
    } catch (err) {
      S.token = '';
      loginError(err instanceof AuthError ? 'The worker refused this token.' : 'Cannot reach the worker: ' + err.message);
      $('login-token').select();
      return;
    } finally {
      $('login-submit').disabled = false;
    }
    sessionStorage.setItem(KEY_TOKEN, token);
    $('login-token').value = '';
    signedIn();
  });
  $('signout').addEventListener('click', () => {
    sessionStorage.removeItem(KEY_TOKEN);
    S.token = '';
    showLogin('Signed out.');
  });

  function signedIn() {
    S.authed = true;
    $('nav').hidden = false;
    $('signout').hidden = !S.token;
    loginError('');
    startStream();
    route(true);
  }

  // ---- The outcome stream: fetch with the token in the header, the SSE
  // lines parsed here, and a reconnect with Last-Event-ID after a drop.

  function live(state, text) {
    $('live').dataset.state = state;
    $('live').textContent = text;
  }
  function stopStream() {
    S.streamGen++;
    if (S.streamAbort) S.streamAbort.abort();
    S.streamAbort = null;
    live('off', 'offline');
  }
  async function startStream() {
    stopStream();
    const gen = S.streamGen;
    let backoff = 1000;
    while (gen === S.streamGen) {
      const ctl = new AbortController();
      S.streamAbort = ctl;
      try {
        const headers = { Accept: 'text/event-stream' };
        if (S.token) headers.Authorization = 'Bearer ' + S.token;
        if (S.lastEventID) headers['Last-Event-ID'] = S.lastEventID;
        const resp = await fetch('/v1/events', { headers, signal: ctl.signal, cache: 'no-store' });
        if (resp.status === 401) {
          if (gen === S.streamGen) showLogin('The worker asks for a token.');
          return;
        }
        if (!resp.ok || !resp.body) throw new Error('HTTP ' + resp.status);
        live('on', 'live');
        backoff = 1000;
        refreshAll(); // what happened before the stream was open
        await readEvents(resp.body, gen);
      } catch {
        /* dropped: reconnect below */
      }
      if (gen !== S.streamGen) return;
      live('off', 'reconnecting…');
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 30000);
    }
  }
  async function readEvents(body, gen) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    let ev = { id: '', event: '', data: [] };
    while (gen === S.streamGen) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let nl;
      while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
        if (buf[nl] === '\r' && nl === buf.length - 1) break; // a \r\n cut in two
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + (buf[nl] === '\r' && buf[nl + 1] === '\n' ? 2 : 1));
        if (line === '') {
          if (ev.data.length) dispatch(ev);
          ev = { id: ev.id, event: '', data: [] };
          continue;
        }
        if (line[0] === ':') continue; // a comment: the keep-alive
        const c = line.indexOf(':');
        const field = c < 0 ? line : line.slice(0, c);
        let v = c < 0 ? '' : line.slice(c + 1);
        if (v[0] === ' ') v = v.slice(1);
        if (field === 'id') ev.id = v;
        else if (field === 'event') ev.event = v;
        else if (field === 'data') ev.data.push(v);
      }
    }
  }
  function dispatch(ev) {
    if (ev.id) S.lastEventID = ev.id;
    let o;
    try {
      o = JSON.parse(ev.data.join('\n'));
    } catch {
      return;
    }
    S.recent.push(o);
    if (S.recent.length > 200) S.recent.shift();
    const d = S.details.get(o.escalation_id);
    if (d) (d.timeline || d.early).push(o);
    later('lists', refreshLists);
    if (S.route === 'escalation' && (o.escalation_id === S.oneID || o.alert_id === S.oneRef || o.short_code === S.oneRef)) {
      later('one', refreshOne);
    }
    if (S.route === 'silences' && o.event === 'silenced') later('silences', () => S.route === 'silences' && showSilences(false));
    for (const p of S.pending.slice()) {
      if (p.match(o)) {
        S.pending.splice(S.pending.indexOf(p), 1);
        p.done(o);
      }
    }
  }

  // later runs fn once after a burst of outcomes, not once for each.
  const timers = {};
  function later(name, fn) {
    if (timers[name]) return;
    timers[name] = setTimeout(() => {
      timers[name] = 0;
      fn();
    }, 300);
  }

  // refreshOne reads the escalation the detail view shows again, if it
  // still shows one (the view may have changed since this was asked for).
  function refreshOne() {
    if (S.route === 'escalation') showOne(S.oneRef, false);
  }

  function refreshAll() {
    refreshLists();
    if (S.route === 'escalation') showOne(S.oneRef, false);
    if (S.route === 'silences') showSilences(false);
  }

  // ---- Views.

  const VIEWS = ['loading', 'login', 'escalations', 'escalation', 'oncall', 'silences'];
  const TITLES = { escalations: 'Escalations', escalation: 'Escalation', oncall: 'On call', silences: 'Silences', login: 'Sign in' };
  function showView(name, focus) {
    for (const v of VIEWS) $('view-' + v).hidden = v !== name;
    const tab = name === 'escalation' ? 'escalations' : name;
    for (const a of document.querySelectorAll('#nav a')) {
      if (a.dataset.tab === tab) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    if (focus) {
      const heading = $('view-' + name).querySelector('h1');
      if (heading) heading.focus({ preventScroll: false });
    }
  }
  function setTitle(t) {
    document.title = t + ' · escalator';
  }

  function route(focus) {
    if (!S.authed) return;
    notice('');
    const hash = location.hash.replace(/^#/, '') || '/';
    if (hash.startsWith('/e/')) {
      showOne(decodeURIComponent(hash.slice(3)), focus !== false);
    } else if (hash === '/oncall') {
      showOncall(focus !== false);
    } else if (hash === '/silences') {
      showSilences(focus !== false);
    } else {
      S.route = 'escalations';
      showView('escalations', focus !== false);
      setTitle(TITLES.escalations);
      renderLists();
      refreshLists();
    }
  }
  window.addEventListener('hashchange', () => route(true));

  function notice(text) {
    $('notice').textContent = text;
    $('notice').hidden = !text;
  }
  function failed(err) {
    if (err instanceof AuthError) return;
    notice(err.message);
  }

  function toast(text, bad) {
    const el = h('div', { class: 'toast' + (bad ? ' bad' : '') }, text);
    $('toasts').append(el);
    while ($('toasts').children.length > 2) $('toasts').firstElementChild.remove();
    setTimeout(() => el.remove(), bad ? 12000 : 6000);
  }

  // ---- Escalations.

  async function refreshLists() {
    if (!S.authed) return;
    try {
      const [a, k, e] = await Promise.all([
        api('GET', '/v1/escalations?status=active&limit=100'),
        api('GET', '/v1/escalations?status=acknowledged&limit=100'),
        api('GET', '/v1/escalations?status=ended&limit=' + ENDED_SHOWN),
      ]);
      S.lists = { active: a.escalations || [], acknowledged: k.escalations || [], ended: e.escalations || [] };
    } catch (err) {
      failed(err);
      return;
    }
    renderLists();
    // Who was called through which provider is in each one's timeline.
    for (const s of [...S.lists.active, ...S.lists.acknowledged].slice(0, 30)) {
      if (!S.details.has(s.id)) loadDetail(s.id);
    }
  }
  // outcomeKey tells one outcome from another (an outcome has no id of its
  // own in a timeline).
  const outcomeKey = (o) => [o.event, o.at, o.step, o.loop, o.provider, o.attempt].join('|');
  async function loadDetail(id) {
    const d = { timeline: null, early: [] }; // early: outcomes that came during the read
    S.details.set(id, d);
    try {
      const got = await api('GET', '/v1/escalations/' + enc(id));
      const timeline = got.timeline || [];
      const seen = new Set(timeline.map(outcomeKey));
      d.timeline = timeline.concat(d.early.filter((o) => !seen.has(outcomeKey(o))));
      renderLists();
    } catch (err) {
      S.details.delete(id);
    }
  }

  function renderLists() {
    if (S.route !== 'escalations') return;
    for (const [name, list] of Object.entries(S.lists)) {
      $('n-' + name).textContent = '(' + list.length + ')';
      const box = $('list-' + name);
      const focused = document.activeElement && box.contains(document.activeElement) ? document.activeElement.id : '';
      box.replaceChildren(...list.map(card));
      if (focused && $(focused)) $(focused).focus();
    }
  }

  const STATUS = {
    active: 'calling', silenced: 'silenced', acknowledged: 'acknowledged', resolved: 'resolved', exhausted: 'exhausted',
  };
  function badge(status, text) {
    return h('span', { class: 'badge b-' + status }, text || STATUS[status] || status);
  }
  function alertsOf(s) {
    return s.alert_ids && s.alert_ids.length ? s.alert_ids : [s.alert_id];
  }
  function nameOf(s) {
    return s.policy + ' · ' + alertsOf(s)[0] + (alertsOf(s).length > 1 ? ' +' + (alertsOf(s).length - 1) : '');
  }
  function lastDispatch(id) {
    const d = S.details.get(id);
    if (!d || !d.timeline) return null;
    for (let i = d.timeline.length - 1; i >= 0; i--) if (d.timeline[i].event === 'dispatched') return d.timeline[i];
    return null;
  }
  function summaryOf(id) {
    const d = S.details.get(id);
    if (!d || !d.timeline) return '';
    const o = d.timeline.find((x) => x.summary);
    return o ? o.summary : '';
  }
  function calledText(s) {
    const last = lastDispatch(s.id);
    const names = (s.last_called || []).map((p) => p.name);
    if (last && last.provider) {
      const who = names.length ? names : (last.people || []).map((p) => p.name);
      return who.join(', ') + ' via ' + last.provider;
    }
    return names.join(', ');
  }
  function stepText(s) {
    return 'step ' + (s.step + 1) + (s.loop ? ', round ' + (s.loop + 1) : '');
  }

  function card(s) {
    const ended = s.status === 'resolved' || s.status === 'exhausted';
    const facts = [];
    const fact = (k, ...v) => facts.push(h('dt', null, k), h('dd', null, ...v));
    const summary = summaryOf(s.id);
    if (summary) fact('Summary', summary);
    fact('Alerts', alertsOf(s).join(', '));
    if (!ended) fact('Step', stepText(s) + (s.in_flight ? ' (calling now)' : ''));
    const called = calledText(s);
    if (called) fact('Called', called);
    if (s.status === 'silenced' && s.quiet) fact('Quiet until', countdown(s.quiet.until));
    else if (s.status === 'active' && !zero(s.next_at)) fact('Next step', countdown(s.next_at));
    else if (s.status === 'acknowledged' && !zero(s.next_at)) fact('Pages again', countdown(s.next_at));
    if (s.by) fact(ended ? 'By' : 'Acknowledged by', s.by);
    fact('Started', when(s.started_at));
    if (!zero(s.ended_at)) fact(ended ? 'Ended' : 'At', when(s.ended_at));
    const label = nameOf(s) + ' (' + s.short_code + ')';
    const actions = [];
    if (s.status === 'active' || s.status === 'silenced') {
      actions.push(h('button', { type: 'button', class: 'ack', id: 'ack-' + s.id, 'aria-label': 'Acknowledge ' + label, onclick: () => act(s.id, 'ack', label) }, 'Acknowledge'));
    }
    actions.push(h('a', { class: 'btn', href: '#/e/' + enc(s.id), 'aria-label': 'Details of ' + label }, 'Details'));
    return h('article', { class: 'card esc s-' + s.status, data: { id: s.id, status: s.status }, 'aria-label': label },
      h('div', { class: 'esc-head' },
        badge(s.status),
        h('h3', null, h('a', { href: '#/e/' + enc(s.id) }, nameOf(s))),
        h('span', { class: 'code', title: 'short code: "ack ' + s.short_code + '" in a text message' }, '#' + s.short_code)),
      h('dl', { class: 'facts' }, facts),
      h('div', { class: 'actions' }, actions));
  }

  // ---- Actions: acknowledge, resolve, escalate, each shown with its outcome.

  const ACT = {
    ack: { verb: 'Acknowledge', doing: 'Acknowledging', event: 'acknowledged', done: 'Acknowledged' },
    resolve: { verb: 'Resolve', doing: 'Resolving', event: 'resolved', done: 'Resolved' },
    escalate: { verb: 'Escalate now', doing: 'Escalating', event: 'escalated', done: 'Escalated' },
  };
  let actTarget = null;

  // act acknowledges at once when the page knows who you are; resolving and
  // escalating, or a first acknowledgement, ask first.
  function act(id, kind, label) {
    const by = localStorage.getItem(KEY_BY) || '';
    if (kind === 'ack' && by) {
      sendAct(id, kind, label, by, '');
      return;
    }
    actTarget = { id, kind, label };
    $('act-title').textContent = ACT[kind].verb;
    $('act-submit').textContent = ACT[kind].verb;
    $('act-what').textContent = label;
    $('act-by').value = by;
    $('act-comment').value = '';
    $('act-error').hidden = true;
    $('dlg-act').showModal();
    (by ? $('act-comment') : $('act-by')).focus();
  }
  $('act-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const by = $('act-by').value.trim();
    if (!by) {
      $('act-error').textContent = 'Say who you are: your name goes with the ' + ACT[actTarget.kind].event + ' outcome.';
      $('act-error').hidden = false;
      $('act-by').focus();
      return;
    }
    localStorage.setItem(KEY_BY, by);
    $('dlg-act').close();
    const t = actTarget;
    await sendAct(t.id, t.kind, t.label, by, $('act-comment').value.trim());
  });
  $('act-cancel').addEventListener('click', () => $('dlg-act').close());

  async function sendAct(id, kind, label, by, comment) {
    const a = ACT[kind];
    const pending = {
      match: (o) => o.escalation_id === id && o.event === a.event,
      done: (o) => toast(a.done + ' by ' + (o.by || by) + ' (' + label + ')' + (o.comment ? ': ' + o.comment : '')),
    };
    S.pending.push(pending);
    for (const b of document.querySelectorAll('button.ack')) if (b.id === 'ack-' + id || b.id === 'one-ack') b.disabled = true;
    toast(a.doing + ' ' + label + '…');
    try {
      await api('POST', '/v1/escalations/' + enc(id) + '/' + kind, { by, comment });
    } catch (err) {
      S.pending.splice(S.pending.indexOf(pending), 1);
      if (!(err instanceof AuthError)) toast(a.verb + ' ' + label + ': ' + err.message, true);
    }
    later('lists', refreshLists);
    if (S.route === 'escalation') later('one', refreshOne);
  }

  // ---- One escalation: its timeline on a time axis next to its plan.

  async function showOne(ref, focus) {
    const fresh = S.route !== 'escalation' || S.oneRef !== ref;
    S.route = 'escalation';
    S.oneRef = ref;
    if (fresh) {
      S.oneID = '';
      $('one-title').textContent = 'Escalation ' + ref;
      $('one-head').replaceChildren();
      $('one-actions').replaceChildren();
      $('one-timeline').replaceChildren();
      $('one-plan').replaceChildren();
    }
    showView('escalation', focus);
    let d;
    let plan = null;
    try {
      [d, plan] = await Promise.all([
        api('GET', '/v1/escalations/' + enc(ref)),
        api('GET', '/v1/escalations/' + enc(ref) + '/plan').catch(() => null),
      ]);
    } catch (err) {
      if (S.oneRef === ref) failed(err);
      return;
    }
    if (S.route !== 'escalation' || S.oneRef !== ref) return;
    S.oneID = d.id;
    S.details.set(d.id, { timeline: (d.timeline || []).slice(), early: [] });
    renderOne(d, plan);
  }

  function renderOne(d, plan) {
    const s = d.escalation;
    const tl = d.timeline || [];
    const first = tl[0] || {};
    const policy = s ? s.policy : first.policy || '';
    const label = (policy ? policy + ' · ' : '') + (s ? alertsOf(s)[0] : first.alert_id || d.id) + (s ? ' (' + s.short_code + ')' : '');
    $('one-title').textContent = label;
    setTitle(label);
    const facts = [];
    const fact = (k, ...v) => facts.push(h('dt', null, k), h('dd', null, ...v));
    const status = s ? s.status : plan && plan.status === 'ended' ? 'ended' : (tl[tl.length - 1] || {}).event || 'ended';
    fact('Status', badge(status));
    const summary = (tl.find((o) => o.summary) || {}).summary;
    if (summary) fact('Summary', summary);
    if (s) {
      fact('Alerts', alertsOf(s).join(', '));
      fact('Short code', s.short_code);
      fact('Step', stepText(s) + (s.in_flight ? ' (calling now)' : ''));
      const called = calledText(s);
      if (called) fact('Last called', called);
      if (s.status === 'silenced' && s.quiet) fact('Quiet until', countdown(s.quiet.until), s.quiet.maintenance ? ' (maintenance ' + s.quiet.maintenance + ')' : '');
      else if (!zero(s.next_at) && (s.status === 'active' || s.status === 'acknowledged')) fact(s.status === 'active' ? 'Next step' : 'Pages again', countdown(s.next_at));
      if (s.by) fact('By', s.by);
      fact('Started', when(s.started_at));
    }
    fact('Id', h('code', null, d.id));
    $('one-head').replaceChildren(h('dl', { class: 'facts card' }, facts));

    const open = s && s.status !== 'resolved' && s.status !== 'exhausted';
    const actions = [];
    if (open && (s.status === 'active' || s.status === 'silenced')) {
      actions.push(h('button', { type: 'button', class: 'ack big', id: 'one-ack', onclick: () => act(d.id, 'ack', label) }, 'Acknowledge'));
    }
    if (open) {
      actions.push(h('button', { type: 'button', id: 'one-escalate', onclick: () => act(d.id, 'escalate', label) }, 'Escalate now'));
      actions.push(h('button', { type: 'button', id: 'one-resolve', onclick: () => act(d.id, 'resolve', label) }, 'Resolve'));
    }
    actions.push(h('button', { type: 'button', id: 'one-silence', onclick: () => silenceLike(s, d, label) }, 'Silence like this'));
    $('one-actions').replaceChildren(...actions);

    $('one-timeline').replaceChildren(...timelineItems(tl, s));
    $('one-plan').replaceChildren(...planItems(plan));
  }

  // gap spaces two items on the axis by the time between them (a square
  // root, capped), so that the picture shows where time went.
  function gap(li, prev, at) {
    if (!prev) return;
    const secs = Math.max(0, (Date.parse(at) - Date.parse(prev)) / 1000);
    li.style.marginTop = Math.min(56, Math.round(5 * Math.sqrt(secs))) + 'px';
  }
  function people(list) {
    return (list || []).map((p) => p.name + (p.phone ? ' (' + p.phone + ')' : '')).join(', ');
  }
  function describe(o) {
    const P = (t) => h('span', { class: 'provider' }, t);
    switch (o.event) {
      case 'started': return ['Started: policy ', o.policy, ', alert ', o.alert_id];
      case 'grouped': return ['Alert ', o.alert_id, ' joined (', o.alerts, ' alerts)'];
      case 'dispatched': {
        const out = [P(o.provider), ' called ', people(o.people)];
        if (o.pending) out.push(' (accepted; a person must still act)');
        if (o.in_doubt) out.push(' (placed again after a restart)');
        if (o.not_called && o.not_called.length) out.push('; not called: ' + o.not_called.map((u) => u.person.name + ' (' + u.reason + ')').join(', '));
        return out;
      }
      case 'dispatch_failed': return [P(o.provider), ' failed for ', people(o.people), ': ', o.error || ''];
      case 'fallback': return [P(o.provider), ' → ', P(o.next), ' for ', people(o.people), o.error ? ': ' + o.error : ''];
      case 'refused': return [P(o.provider), ' refused ', people(o.people), ': ', o.reason || o.error || ''];
      case 'skipped': return ['Step skipped: ', o.reason || ''];
      case 'answered': return [o.by || 'Someone', ' answered (', P(o.provider), ')'];
      case 'silenced': return ['Silenced until ', when(o.until), o.silence ? ' (silence ' + o.silence + ')' : o.reason ? ' (' + o.reason + ')' : ''];
      case 'acknowledged': return ['Acknowledged by ', o.by || 'someone', o.via ? ' via ' + o.via : '', o.comment ? ': “' + o.comment + '”' : ''];
      case 'unacknowledged': return ['Acknowledgement timed out: from step 1 again'];
      case 'escalated': return ['Escalated by ', o.by || 'someone', o.comment ? ': “' + o.comment + '”' : ''];
      case 'resolved': return ['Resolved', o.by ? ' by ' + o.by : '', o.via ? ' via ' + o.via : '', o.comment ? ': “' + o.comment + '”' : ''];
      case 'exhausted': return ['Every step ran; nobody acknowledged'];
      default: return [o.event];
    }
  }
  const STEP_EVENTS = new Set(['dispatched', 'dispatch_failed', 'fallback', 'refused', 'answered']);
  function timelineItems(tl, s) {
    const items = [];
    let step = '';
    let prev = '';
    for (const o of tl) {
      const key = o.loop + '/' + o.step;
      if (STEP_EVENTS.has(o.event) && key !== step) {
        step = key;
        const li = h('li', { class: 'step' }, h('span', { class: 'when' }, when(o.at)), 'Step ' + (o.step + 1) + (o.loop ? ', round ' + (o.loop + 1) : ''));
        gap(li, prev, o.at);
        prev = o.at;
        items.push(li);
      }
      const li = h('li', { class: 'ev-' + o.event, data: { event: o.event } }, h('span', { class: 'when' }, when(o.at)), h('span', { class: 'detail' }, describe(o)));
      gap(li, prev, o.at);
      prev = o.at;
      items.push(li);
    }
    if (s && s.status !== 'resolved' && s.status !== 'exhausted') {
      const now = new Date().toISOString();
      const li = h('li', { class: 'now' }, h('span', { class: 'when' }, when(now)), 'Now');
      gap(li, prev, now);
      items.push(li);
    }
    if (!items.length) items.push(h('li', null, 'Nothing yet.'));
    return items;
  }
  function planItems(plan) {
    if (!plan || !plan.steps || !plan.steps.length) {
      return [h('li', null, plan && plan.status === 'acknowledged' ? 'Nothing: acknowledged.' : 'Nothing more: no step to come.')];
    }
    const items = [];
    let prev = plan.from;
    for (const p of plan.steps) {
      let text;
      switch (p.event) {
        case 'skipped': text = ['Step ' + (p.step + 1) + ' skipped: ' + (p.reason || '')]; break;
        case 'exhausted': text = ['The end: exhausted, nobody acknowledged']; break;
        default: {
          const head = p.event === 'start' ? 'Starts again at step ' : p.event === 'repage' ? 'Pages again at step ' : 'Step ';
          text = [h('strong', null, head + (p.step + 1) + (p.loop ? ', round ' + (p.loop + 1) : '')), ': ', p.strategy || '', ' ',
            people(p.people), p.via && p.via.length ? [' via ', h('span', { class: 'provider' }, p.via.join(' → '))] : ''];
        }
      }
      const li = h('li', { class: 'ev-' + p.event }, h('span', { class: 'when' }, when(p.at), ' · ', countdown(p.at)), h('span', { class: 'detail' }, text));
      gap(li, prev, p.at);
      prev = p.at;
      items.push(li);
    }
    return items;
  }

  // ---- Silences.

  let silenceFrom = null;
  // silenceLike opens the silence form with matchers of the escalation's
  // alert: its labels when the API gives them; a heartbeat alert's monitor.
  function silenceLike(s, d, label) {
    const lines = [];
    const labels = (s && s.labels) || null;
    if (labels) for (const [k, v] of Object.entries(labels)) lines.push(k + '=' + v);
    const alertID = s ? s.alert_id : (d.timeline[0] || {}).alert_id || '';
    if (!lines.length && alertID.startsWith('heartbeat/')) lines.push('heartbeat=' + alertID.slice('heartbeat/'.length));
    openSilence(lines.join('\n'), 'Like ' + label + (lines.length ? '' : ': type the labels of its alerts.'), d.id);
  }
  function openSilence(matchers, what, escalationID) {
    silenceFrom = escalationID || null;
    $('silence-matchers').value = matchers;
    $('silence-what').textContent = what || '';
    $('silence-by').value = localStorage.getItem(KEY_BY) || '';
    $('silence-comment').value = '';
    $('silence-error').hidden = true;
    $('dlg-silence').showModal();
    (matchers ? ($('silence-by').value ? $('silence-comment') : $('silence-by')) : $('silence-matchers')).focus();
  }
  $('silence-new').addEventListener('click', () => openSilence('', 'Alerts whose labels match all of these are kept quiet.'));
  $('silence-cancel').addEventListener('click', () => $('dlg-silence').close());

  // parseMatchers reads "label=value" and "label=~regex" lines (or
  // comma-separated).
  function parseMatchers(text) {
    const out = { matchers: {}, matchers_regex: {} };
    for (const raw of text.split(/[\n,]/)) {
      const line = raw.trim();
      if (!line) continue;
      const m = /^([^=~!\s]+)\s*(=~|=)\s*(.*)$/.exec(line);
      if (!m) throw new Error('“' + line + '” is not label=value or label=~regex');
      let v = m[3].trim();
      if (v.length >= 2 && /^(["']).*\1$/.test(v)) v = v.slice(1, -1);
      (m[2] === '=~' ? out.matchers_regex : out.matchers)[m[1]] = v;
    }
    if (!Object.keys(out.matchers).length && !Object.keys(out.matchers_regex).length) throw new Error('Give at least one matcher');
    return out;
  }
  function silenceError(text, field) {
    $('silence-error').textContent = text;
    $('silence-error').hidden = false;
    if (field) $(field).focus();
  }
  $('silence-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    let m;
    try {
      m = parseMatchers($('silence-matchers').value);
    } catch (err) {
      silenceError(err.message, 'silence-matchers');
      return;
    }
    const by = $('silence-by').value.trim();
    const comment = $('silence-comment').value.trim();
    if (!by) return silenceError('Say who you are.', 'silence-by');
    if (!comment) return silenceError('Say why: the others see it.', 'silence-comment');
    localStorage.setItem(KEY_BY, by);
    $('silence-submit').disabled = true;
    let got;
    try {
      got = await api('POST', '/v1/silences', { ...m, duration: $('silence-duration').value, by, comment });
    } catch (err) {
      if (!(err instanceof AuthError)) silenceError(err.message);
      return;
    } finally {
      $('silence-submit').disabled = false;
    }
    $('dlg-silence').close();
    toast('Silence made, until ' + localFmt.format(new Date(got.ends_at)) + (got.escalations ? '; ' + got.escalations + ' running escalation(s) to keep quiet' : ''));
    // The escalations it quietened at once may have been reported on the
    // stream before this answer came.
    const quietened = {
      match: (o) => o.event === 'silenced' && o.silence === got.id,
      done: (o) => toast(o.policy + ' · ' + o.alert_id + ' kept quiet until ' + localFmt.format(new Date(o.until))),
    };
    S.recent.filter(quietened.match).forEach(quietened.done);
    S.pending.push(quietened);
    if (S.route === 'silences') showSilences(false);
  });

  function matcherChips(s) {
    const chips = [];
    for (const [k, v] of Object.entries(s.matchers || {})) chips.push(h('span', { class: 'chip' }, k + '=' + v));
    for (const [k, v] of Object.entries(s.matchers_regex || {})) chips.push(h('span', { class: 'chip' }, k + '=~' + v));
    return h('div', { class: 'chips' }, chips);
  }
  function silenceCard(s) {
    const facts = [];
    const fact = (k, ...v) => facts.push(h('dt', null, k), h('dd', null, ...v));
    fact('By', s.by);
    if (s.comment) fact('Why', s.comment);
    fact('From', when(s.starts_at));
    fact(s.status === 'expired' ? 'Ended' : 'Until', when(s.status === 'expired' && !zero(s.expired_at) ? s.expired_at : s.ends_at),
      s.status === 'expired' ? '' : [' · ', countdown(s.ends_at)]);
    const actions = [];
    if (s.status !== 'expired') {
      actions.push(h('button', { type: 'button', id: 'expire-' + s.id, 'aria-label': 'Expire the silence by ' + s.by + (s.comment ? ': ' + s.comment : ''), onclick: () => expire(s) }, 'Expire now'));
    }
    return h('article', { class: 'card', data: { silence: s.id, status: s.status } },
      h('div', { class: 'esc-head' }, badge(s.status, s.status), matcherChips(s)),
      h('dl', { class: 'facts' }, facts),
      h('div', { class: 'actions' }, actions));
  }
  async function expire(s) {
    try {
      const got = await api('DELETE', '/v1/silences/' + enc(s.id));
      toast('Silence expired' + (got.escalations ? '; ' + got.escalations + ' escalation(s) wake' : ''));
    } catch (err) {
      if (!(err instanceof AuthError)) toast('Expire: ' + err.message, true);
    }
    showSilences(false);
  }

  function heartbeatCard(m) {
    const facts = [];
    const fact = (k, ...v) => facts.push(h('dt', null, k), h('dd', null, ...v));
    fact('Every', m.every);
    fact('Last ping', zero(m.last_ping) ? 'never' : [when(m.last_ping), ' · ', countdown(m.last_ping)]);
    if (!zero(m.deadline)) fact('Deadline', when(m.deadline), ' · ', countdown(m.deadline));
    if (!zero(m.missed)) fact('Missed', when(m.missed), ' — alert ', m.alert_id, ' firing');
    if (m.summary) fact('Raises', m.summary);
    return h('article', { class: 'card', data: { heartbeat: m.name, state: m.state } },
      h('div', { class: 'esc-head' }, badge(m.state, m.state), h('h3', null, m.name)),
      h('dl', { class: 'facts' }, facts));
  }

  async function showSilences(focus) {
    S.route = 'silences';
    showView('silences', focus);
    setTitle(TITLES.silences);
    let s;
    let hb;
    try {
      [s, hb] = await Promise.all([
        api('GET', '/v1/silences'),
        api('GET', '/v1/heartbeats').catch((err) => (err instanceof AuthError ? Promise.reject(err) : { heartbeats: [] })),
      ]);
    } catch (err) {
      failed(err);
      return;
    }
    if (S.route !== 'silences') return;
    const all = s.silences || [];
    const live = all.filter((x) => x.status !== 'expired');
    const expired = all.filter((x) => x.status === 'expired').slice(0, 10);
    $('silence-list').replaceChildren(...live.map(silenceCard));
    $('silence-expired-list').replaceChildren(...expired.map(silenceCard));
    $('silence-expired').hidden = !expired.length;
    $('heartbeat-list').replaceChildren(...(hb.heartbeats || []).map(heartbeatCard));
  }

  // ---- On call: per roster, who now and until when, the hand-offs of the
  // next two weeks; the page's ?at= asks about another moment.

  async function showOncall(focus) {
    S.route = 'oncall';
    showView('oncall', focus);
    setTitle(TITLES.oncall);
    const at = new URLSearchParams(location.search).get('at');
    let data;
    try {
      data = await api('GET', '/v1/oncall?next=60' + (at ? '&at=' + enc(at) : ''));
    } catch (err) {
      failed(err);
      return;
    }
    if (S.route !== 'oncall') return;
    const from = Date.parse(data.at);
    $('oncall-at').replaceChildren(at ? 'At ' : 'Now, ', when(data.at), ', and the hand-offs of the two weeks after.');
    $('oncall-list').replaceChildren(...(data.rosters || []).map((r) => rosterCard(r, from)));
  }
  function source(c) {
    if (c.source === 'override') return badge('override', 'override');
    if (c.source === 'layer') return h('span', { class: 'muted' }, 'layer ' + c.layer);
    if (c.source === 'base') return h('span', { class: 'muted' }, 'rotation');
    return '';
  }
  function rosterCard(r, from) {
    const zone = r.time_zone;
    const facts = [];
    const fact = (k, ...v) => facts.push(h('dt', null, k), h('dd', null, ...v));
    if (!zero(r.since)) fact('Since', when(r.since, zone));
    fact('Until', zero(r.until) ? 'no change ahead' : when(r.until, zone));
    if (r.override) fact('Override', (r.override.people || [r.override.person]).join(', '), ', ', when(r.override.start, zone), ' → ', when(r.override.end, zone));
    if (r.covers && r.covers.people) fact('Covers for', r.covers.people.join(', ') || 'nobody');
    fact('Zone', zone);
    if (r.used_by && r.used_by.length) fact('Used by', r.used_by.join(', '));
    const next = (r.next || []).filter((n) => Date.parse(n.at) - from <= HORIZON);
    const rows = next.map((n) => h('tr', null, h('td', null, when(n.at, zone)), h('td', null, (n.people || []).join(', ') || 'nobody'), h('td', null, source(n))));
    return h('article', { class: 'card', data: { roster: r.name } },
      h('h2', null, r.name, r.policy ? h('span', { class: 'muted' }, ' (policy ' + r.policy + '’s own)') : ''),
      r.description ? h('p', { class: 'muted' }, r.description) : '',
      h('p', null, h('span', { class: 'who', data: { oncall: r.name } }, (r.people || []).join(', ') || 'nobody'), ' ', source(r)),
      h('dl', { class: 'facts' }, facts),
      h('h3', null, 'Next hand-offs'),
      rows.length
        ? h('table', null, h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'From'), h('th', { scope: 'col' }, 'Who'), h('th', { scope: 'col' }, 'How'))), h('tbody', null, rows))
        : h('p', { class: 'muted' }, 'None in the next two weeks.'));
  }

  boot();
})();
