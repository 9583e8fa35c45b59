// The Wharf web console: a single page over the JSON API of src/console/ (see
// notes/console-api.md). Plain modern JavaScript, no framework, no build step.
//
// Invariants:
// - Data from the API reaches the page ONLY as text: el()/svg() turn strings into text nodes
//   (createTextNode) and set attributes with setAttribute; nothing here assigns innerHTML,
//   outerHTML or insertAdjacentHTML, and nothing builds markup from strings. A message whose
//   headers and body are HTML with <script> shows as those characters.
// - One view is mounted at a time; it registers its timers and EventSources with the view
//   context so that leaving the view stops them (no polling of hidden views).
// - Unsafe requests carry Content-Type: application/json (the API's CSRF rule).
'use strict';

(() => {
  // ---------------------------------------------------------------------------------------------
  // DOM helpers: the only way this file creates nodes.

  const SVG_NS = 'http://www.w3.org/2000/svg';

  function append(parent, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) {
      for (const c of child) append(parent, c);
      return;
    }
    if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }

  function setAttrs(node, attrs) {
    if (!attrs) return;
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
      else if (k === 'text') node.textContent = String(v);
      else if (k === 'value' && 'value' in node) node.value = String(v);
      else if (k === 'checked' && 'checked' in node) node.checked = !!v;
      else node.setAttribute(k, v === true ? '' : String(v));
    }
  }

  /** el('div', {class: 'x'}, 'text', child, [more]) — strings become text nodes. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  /** The same for SVG elements (createElementNS). */
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------------------------------------
  // Formatting

  function toDate(v) {
    if (v === null || v === undefined || v === '') return null;
    const d = typeof v === 'number' ? new Date(v < 1e12 ? v * 1000 : v) : new Date(v);
    return Number.isNaN(d.getTime()) ? null : d;
  }
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  function fmtClock(v, ms = false) {
    const d = toDate(v);
    if (!d) return '';
    const t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    return ms ? `${t}.${pad(d.getMilliseconds(), 3)}` : t;
  }
  function fmtWhen(v) {
    const d = toDate(v);
    if (!d) return v === null || v === undefined ? '' : String(v);
    const now = new Date();
    const sameDay = d.toDateString() === now.toDateString();
    const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    return sameDay ? fmtClock(d) : `${date} ${fmtClock(d)}`;
  }
  function fmtRelative(v) {
    const d = toDate(v);
    if (!d) return '';
    const s = Math.round((d.getTime() - Date.now()) / 1000);
    const a = Math.abs(s);
    const span = a < 60 ? `${a} s` : a < 3600 ? `${Math.round(a / 60)} min` : a < 86400 ? `${Math.round(a / 360) / 10} h` : `${Math.round(a / 8640) / 10} days`;
    return s >= 0 ? `in ${span}` : `${span} ago`;
  }
  function fmtSeconds(s) {
    if (typeof s !== 'number' || !Number.isFinite(s)) return s === undefined || s === null ? '' : String(s);
    const a = Math.abs(Math.round(s));
    const t = a < 120 ? `${a} s` : a < 7200 ? `${Math.round(a / 60)} min` : a < 172800 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86400)} days`;
    return s < 0 ? `−${t}` : t;
  }
  function fmtBytes(n) {
    if (typeof n !== 'number' || !Number.isFinite(n)) return n === undefined || n === null ? '' : String(n);
    if (n < 1024) return `${n} B`;
    const units = ['KiB', 'MiB', 'GiB', 'TiB'];
    let v = n / 1024;
    let i = 0;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
  }
  const str = (v) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

  // ---------------------------------------------------------------------------------------------
  // API

  class ApiError extends Error {
    constructor(status, message, body) {
      super(message);
      this.status = status;
      /** The JSON error body (may carry more, e.g. line and column of a zone file mistake). */
      this.body = body || null;
    }
  }

  const state = {
    user: null,
    sources: [],
    /** The instance the per-source views show ('' = the authority instance). */
    source: '',
    view: null,
  };

  function withQuery(path, params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    const s = q.toString();
    return s ? `${path}${path.includes('?') ? '&' : '?'}${s}` : path;
  }
  /** A per-source route: adds ?source= for the instance chosen in the top bar. */
  const src = (path, params) => withQuery(path, { ...params, source: state.source });

  async function api(method, path, body, { text = false } = {}) {
    const init = { method, credentials: 'same-origin', headers: { Accept: text ? 'text/plain' : 'application/json' } };
    if (method !== 'GET' && method !== 'HEAD') {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body === undefined ? {} : body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, `cannot reach the console server (${err.message})`);
    }
    if (res.status === 401 && path !== '/api/login') {
      onLoggedOut('Your session has ended; please sign in again.');
      throw new ApiError(401, 'not signed in');
    }
    if (!res.ok) {
      let msg = `${res.status} ${res.statusText}`;
      let body = null;
      try {
        body = await res.json();
        if (body && typeof body.error === 'string') msg = body.error;
      } catch {
        /* not JSON */
      }
      throw new ApiError(res.status, msg, body);
    }
    if (res.status === 204) return null;
    if (text) return res.text();
    const ct = res.headers.get('content-type') || '';
    return ct.includes('json') ? res.json() : res.text();
  }

  // ---------------------------------------------------------------------------------------------
  // Flash messages

  let flashTimer = null;
  function flash(message, kind = 'info') {
    const box = $('flash');
    box.textContent = message;
    box.className = `flash flash-${kind}`;
    box.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => (box.hidden = true), kind === 'error' ? 8000 : 4000);
  }
  const fail = (err) => flash(err instanceof Error ? err.message : String(err), 'error');

  /** Runs an action from a button: disables it meanwhile, reports errors. */
  async function act(button, fn) {
    if (button) button.disabled = true;
    try {
      await fn();
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) fail(err);
    } finally {
      if (button) button.disabled = false;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Login / logout

  function showLogin(message) {
    stopView();
    state.user = null;
    $('nav').hidden = true;
    $('session-box').hidden = true;
    $('view').hidden = true;
    $('login-view').hidden = false;
    const err = $('login-error');
    err.hidden = !message;
    err.textContent = message || '';
    $(($('login-user').value ? 'login-password' : 'login-user')).focus();
  }

  function onLoggedOut(message) {
    if (state.user !== null) showLogin(message);
  }

  async function onLoggedIn(user) {
    state.user = user;
    $('login-view').hidden = true;
    $('nav').hidden = false;
    $('session-box').hidden = false;
    $('view').hidden = false;
    $('whoami').textContent = user;
    await loadSources();
    route();
  }

  async function loadSources() {
    try {
      state.sources = (await api('GET', '/api/sources')) || [];
    } catch (err) {
      state.sources = [];
      fail(err);
    }
    const sel = clear($('source-select'));
    const saved = sessionStorage.getItem('wharf.source') || '';
    const names = state.sources.map((s) => s.name);
    // Default: the instance the admin account belongs to (the authority), else the first.
    const domain = (state.user || '').slice((state.user || '').lastIndexOf('@') + 1).toLowerCase();
    const own = state.sources.find((s) => s.name.toLowerCase() === domain || String(s.hostname || '').toLowerCase() === domain);
    state.source = names.includes(saved) ? saved : own ? own.name : names[0] || '';
    for (const s of state.sources) {
      sel.appendChild(el('option', { value: s.name, title: s.hostname || '' }, s.name));
    }
    sel.value = state.source;
    sel.parentElement.hidden = state.sources.length <= 1;
  }

  function wireChrome() {
    $('login-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const button = $('login-submit');
      button.disabled = true;
      try {
        const r = await api('POST', '/api/login', { username: $('login-user').value.trim(), password: $('login-password').value });
        $('login-password').value = '';
        await onLoggedIn(r.user);
      } catch (err) {
        const msg = err.status === 401 ? 'Wrong account or password.' : err.status === 403 ? `This account may not use the console: ${err.message}` : err.message;
        $('login-error').textContent = msg;
        $('login-error').hidden = false;
      } finally {
        button.disabled = false;
      }
    });
    $('logout').addEventListener('click', async () => {
      try {
        await api('POST', '/api/logout');
      } catch {
        /* the session is gone either way */
      }
      showLogin('You have signed out.');
    });
    $('source-select').addEventListener('change', (e) => {
      state.source = e.target.value;
      sessionStorage.setItem('wharf.source', state.source);
      route();
    });
    window.addEventListener('hashchange', () => {
      if (state.user !== null) route();
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Views and routing

  /** What a mounted view holds on to; stopView() releases it. */
  let ctx = null;
  function newContext() {
    const c = {
      alive: true,
      timers: [],
      sources: [],
      every(ms, fn) {
        this.timers.push(setInterval(() => this.alive && fn(), ms));
      },
      events(url) {
        const es = new EventSource(url);
        this.sources.push(es);
        return es;
      },
    };
    return c;
  }
  function stopView() {
    if (!ctx) return;
    ctx.alive = false;
    for (const t of ctx.timers) clearInterval(t);
    for (const es of ctx.sources) es.close();
    ctx = null;
  }

  const views = {
    transcripts: viewTranscripts,
    dns: viewDns,
    queue: viewQueue,
    mailboxes: viewMailboxes,
    proxy: viewProxy,
    counters: viewCounters,
    admin: viewAdmin,
  };

  function parseHash() {
    const h = location.hash.replace(/^#\/?/, '');
    const parts = h.split('/').map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
    return { name: parts[0] || 'transcripts', args: parts.slice(1).filter((p) => p !== '') };
  }
  const link = (...parts) => `#/${parts.map((p) => encodeURIComponent(String(p))).join('/')}`;

  function route() {
    stopView();
    const { name, args } = parseHash();
    const fn = views[name] || views.transcripts;
    const active = views[name] ? name : 'transcripts';
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.view === active);
    const root = clear($('view'));
    // A message about the last view's action does not follow the user to another view.
    if (state.view !== active) $('flash').hidden = true;
    root.className = `view view-${active}`;
    ctx = newContext();
    state.view = active;
    const mine = ctx;
    Promise.resolve(fn(root, args, mine)).catch((err) => {
      if (mine.alive && !(err instanceof ApiError && err.status === 401)) {
        root.appendChild(el('p', { class: 'error load-error' }, `Could not load this view: ${err.message}`));
      }
    });
  }

  function heading(title, intro, ...extra) {
    return el('div', { class: 'view-head' }, el('div', null, el('h2', null, title), intro ? el('p', { class: 'intro' }, intro) : null), el('div', { class: 'view-tools' }, extra));
  }

  function table(columns, rows, opts = {}) {
    const t = el('table', { class: `data ${opts.class || ''}` });
    t.appendChild(el('thead', null, el('tr', null, columns.map((c) => el('th', { class: c.class || null }, c.title)))));
    const body = el('tbody');
    for (const row of rows) {
      const tr = el('tr', opts.rowAttrs ? opts.rowAttrs(row) : null);
      for (const c of columns) {
        const v = c.cell(row);
        tr.appendChild(el('td', { class: c.class || null }, v));
      }
      body.appendChild(tr);
    }
    t.appendChild(body);
    if (rows.length === 0 && opts.empty) body.appendChild(el('tr', null, el('td', { class: 'empty', colspan: columns.length }, opts.empty)));
    return t;
  }

  const badge = (text, kind) => el('span', { class: `badge badge-${kind || 'plain'}` }, text);

  // ---------------------------------------------------------------------------------------------
  // Live transcripts

  const KNOWN_SERVICES = ['smtp', 'submission', 'pop3', 'imap', 'ftp', 'dns', 'proxy', 'queue', 'console', 'lab'];
  const MAX_LINES = 3000;

  function viewTranscripts(root, _args, c) {
    const filters = { source: '', service: '', client: '', user: '', session: '' };
    let paused = false;
    let pending = [];
    let rows = []; // row elements, oldest first
    const groups = new Map(); // key -> { box, body }

    const sourceSel = el('select', { id: 'tf-source', title: 'Instance' }, el('option', { value: '' }, 'all instances'), state.sources.map((s) => el('option', { value: s.name }, s.name)));
    const serviceSel = el('select', { id: 'tf-service', title: 'Service' }, el('option', { value: '' }, 'all services'), KNOWN_SERVICES.map((s) => el('option', { value: s }, s)));
    const text = (id, ph) => el('input', { id, type: 'search', placeholder: ph, size: 14, spellcheck: 'false' });
    const clientIn = text('tf-client', 'client address');
    const userIn = text('tf-user', 'user');
    const sessionIn = text('tf-session', 'session id');
    const follow = el('input', { type: 'checkbox', id: 'tf-follow', checked: true });
    const grouped = el('input', { type: 'checkbox', id: 'tf-group' });
    const pauseBtn = el('button', { type: 'button', id: 'tf-pause' }, 'Pause');
    const clearBtn = el('button', { type: 'button', class: 'btn-quiet', id: 'tf-clear' }, 'Clear');
    const status = el('span', { class: 'live-status', id: 'tf-status' }, 'connecting…');
    const waiting = el('span', { class: 'waiting', hidden: true });
    const box = el('div', { class: 'transcript', id: 'transcript', 'aria-live': 'off' });
    const empty = el('p', { class: 'empty-note' }, 'No transcript lines yet. Connect to one of the services (or run a lab scenario) and the conversation appears here line by line.');

    root.appendChild(
      heading(
        'Live transcripts',
        'What each side said, in the notation of the slides: S: is the server, C: the client, * a note about the connection.',
      ),
    );
    root.appendChild(
      el(
        'div',
        { class: 'toolbar' },
        state.sources.length > 1 ? sourceSel : null,
        serviceSel,
        clientIn,
        userIn,
        sessionIn,
        el('label', { class: 'check' }, grouped, ' group by session'),
        el('label', { class: 'check' }, follow, ' follow'),
        pauseBtn,
        clearBtn,
        waiting,
        status,
      ),
    );
    root.appendChild(el('div', { class: 'legend' }, el('span', { class: 'dir dir-S' }, 'S:'), ' server → client ', el('span', { class: 'dir dir-C' }, 'C:'), ' client → server ', el('span', { class: 'dir dir-note' }, '*'), ' connection note ', badge('outgoing', 'out'), ' Wharf is the client (relay, resolver)'));
    root.appendChild(box);
    box.appendChild(empty);

    function lineRow(ev) {
      const dirClass = ev.dir === 'S' ? 'dir-S' : ev.dir === 'C' ? 'dir-C' : 'dir-note';
      const sess = el('a', { class: 'sess', href: '#', title: 'Show only this session' }, ev.session);
      sess.addEventListener('click', (e) => {
        e.preventDefault();
        sessionIn.value = ev.session;
        if (ev.source && state.sources.length > 1) sourceSel.value = ev.source;
        applyFilters();
      });
      return el(
        'div',
        { class: `line ${dirClass}` },
        el('span', { class: 'time' }, fmtClock(ev.at, true)),
        grouped.checked ? null : [state.sources.length > 1 ? el('span', { class: 'src' }, ev.source || '') : null, el('span', { class: `svc svc-${ev.service}` }, ev.service), sess, el('span', { class: 'client' }, ev.client || '')],
        el('span', { class: `dir ${dirClass}` }, ev.dir === '*' ? '*' : `${ev.dir}:`),
        el('span', { class: 'text' }, ev.text),
      );
    }

    function groupFor(ev) {
      const key = `${ev.source || ''}|${ev.session}`;
      let g = groups.get(key);
      if (!g) {
        const userSpan = el('span', { class: 'g-user' }, ev.user ? `user ${ev.user}` : '');
        const head = el(
          'div',
          { class: 'group-head' },
          el('span', { class: `svc svc-${ev.service}` }, ev.service),
          el('strong', null, ev.session),
          el('span', { class: 'client' }, ev.outgoing ? `to ${ev.client}` : `from ${ev.client}`),
          ev.outgoing ? badge('outgoing', 'out') : null,
          userSpan,
          state.sources.length > 1 ? el('span', { class: 'src' }, ev.source || '') : null,
        );
        const body = el('div', { class: 'group-body' });
        g = { box: el('div', { class: 'group' }, head, body), body, userSpan, key };
        groups.set(key, g);
        box.appendChild(g.box);
      }
      if (ev.user && !g.userSpan.textContent) g.userSpan.textContent = `user ${ev.user}`;
      return g;
    }

    function addLine(ev) {
      if (empty.parentNode) empty.remove();
      const row = lineRow(ev);
      if (ev.outgoing && !grouped.checked) row.classList.add('outgoing');
      if (grouped.checked) {
        const g = groupFor(ev);
        row.groupKey = g.key;
        g.body.appendChild(row);
      } else {
        box.appendChild(row);
      }
      rows.push(row);
      while (rows.length > MAX_LINES) {
        const old = rows.shift();
        const parent = old.parentNode;
        old.remove();
        if (old.groupKey && parent && !parent.firstChild) {
          groups.get(old.groupKey)?.box.remove();
          groups.delete(old.groupKey);
        }
      }
    }

    // All events seen since the filter was last changed, so grouping can be toggled.
    let seen = [];
    function onEvent(ev) {
      if (!KNOWN_SERVICES.includes(ev.service) && ev.service) {
        KNOWN_SERVICES.push(ev.service);
        serviceSel.appendChild(el('option', { value: ev.service }, ev.service));
      }
      seen.push(ev);
      if (seen.length > MAX_LINES) seen = seen.slice(-MAX_LINES);
      if (paused) {
        pending.push(ev);
        waiting.hidden = false;
        waiting.textContent = `${pending.length} new line${pending.length === 1 ? '' : 's'} waiting`;
        return;
      }
      addLine(ev);
      if (follow.checked) box.scrollTop = box.scrollHeight;
    }

    function redraw() {
      clear(box);
      rows = [];
      groups.clear();
      const list = paused ? seen.slice(0, seen.length - pending.length) : seen;
      if (list.length === 0) box.appendChild(empty);
      for (const ev of list) addLine(ev);
      if (follow.checked) box.scrollTop = box.scrollHeight;
    }

    function connect() {
      for (const es of c.sources) es.close();
      c.sources.length = 0;
      const es = c.events(withQuery('/api/events', filters));
      status.textContent = 'connecting…';
      status.className = 'live-status';
      es.addEventListener('open', () => {
        status.textContent = 'live';
        status.className = 'live-status on';
      });
      es.addEventListener('error', () => {
        if (!c.alive) return;
        status.textContent = es.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting…';
        status.className = 'live-status off';
        if (es.readyState === EventSource.CLOSED) {
          // The server refused the stream (e.g. the session ended): find out why.
          api('GET', '/api/me').then(() => setTimeout(() => c.alive && connect(), 3000), () => {});
        }
      });
      es.addEventListener('transcript', (m) => {
        let ev;
        try {
          ev = JSON.parse(m.data);
        } catch {
          return;
        }
        onEvent(ev);
      });
    }

    function applyFilters() {
      filters.source = sourceSel.value;
      filters.service = serviceSel.value;
      filters.client = clientIn.value.trim();
      filters.user = userIn.value.trim();
      filters.session = sessionIn.value.trim();
      seen = [];
      pending = [];
      waiting.hidden = true;
      redraw();
      connect();
    }

    let debounce = null;
    for (const input of [clientIn, userIn, sessionIn]) {
      input.addEventListener('input', () => {
        clearTimeout(debounce);
        debounce = setTimeout(applyFilters, 400);
      });
    }
    sourceSel.addEventListener('change', applyFilters);
    serviceSel.addEventListener('change', applyFilters);
    grouped.addEventListener('change', redraw);
    follow.addEventListener('change', () => {
      if (follow.checked) box.scrollTop = box.scrollHeight;
    });
    pauseBtn.addEventListener('click', () => {
      paused = !paused;
      pauseBtn.textContent = paused ? 'Resume' : 'Pause';
      pauseBtn.classList.toggle('on', paused);
      if (!paused) {
        const flush = pending;
        pending = [];
        waiting.hidden = true;
        for (const ev of flush) addLine(ev);
        if (follow.checked) box.scrollTop = box.scrollHeight;
      }
    });
    clearBtn.addEventListener('click', () => {
      seen = [];
      pending = [];
      waiting.hidden = true;
      redraw();
    });
    // Scrolling up to read stops following; scrolling back to the bottom follows again.
    box.addEventListener('scroll', () => {
      const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 30;
      if (follow.checked !== atBottom && document.activeElement !== follow) follow.checked = atBottom;
    });
    connect();
  }

  // ---------------------------------------------------------------------------------------------
  // DNS resolutions

  function serverRole(step) {
    const z = step.zone;
    if (z === undefined || z === null || z === '') return { role: 'DNS server', kind: 'other' };
    if (z === '.') return { role: 'root DNS server', kind: 'root' };
    const labels = z.replace(/\.$/, '').split('.').filter(Boolean);
    if (labels.length === 1) return { role: 'TLD DNS server', kind: 'tld' };
    return { role: 'authoritative DNS server', kind: 'auth' };
  }

  const OUTCOME_TEXT = {
    referral: 'referral',
    answer: 'answer',
    nxdomain: 'no such name (NXDOMAIN)',
    nodata: 'no record of that type',
    cname: 'alias (CNAME)',
    error: 'error',
    timeout: 'no reply (timeout)',
    refused: 'refused',
    cache: 'from the cache',
  };
  const outcomeKind = (o) => (o === 'answer' || o === 'cname' ? 'ok' : o === 'referral' ? 'ref' : o === 'cache' ? 'cache' : o === 'nxdomain' || o === 'nodata' ? 'neg' : 'bad');

  /**
   * The messages of one resolution in the order they were sent, numbered like the slides:
   * 1 host → local server, then query and reply per server asked, last the answer to the host.
   */
  function resolutionMessages(res) {
    const steps = [...(res.steps || [])].sort((a, b) => a.step - b.step);
    const msgs = [];
    const notes = [];
    let n = 0;
    const q = `${res.qname} ${res.qtype}`;
    msgs.push({ n: ++n, from: 'host', to: 'local', kind: 'q', text: `query ${q}?` });
    for (const st of steps) {
      if (st.server === 'cache' || st.outcome === 'cache') {
        msgs.push({ n: ++n, from: 'local', to: 'cache', kind: 'cache', text: `cache: ${st.qname} ${st.qtype} → ${st.detail || 'hit'}`, step: st });
      } else if (!st.server || st.server === '-') {
        notes.push({ step: st, text: `${OUTCOME_TEXT[st.outcome] || st.outcome}${st.detail ? `: ${st.detail}` : ''}` });
      } else {
        msgs.push({ n: ++n, from: 'local', to: st.server, kind: 'q', text: `query ${st.qname} ${st.qtype}?`, step: st });
        const failed = st.outcome === 'timeout' || st.outcome === 'error' || st.outcome === 'refused';
        msgs.push({ n: ++n, from: st.server, to: 'local', kind: failed ? 'fail' : 'r', text: replyText(st), step: st });
      }
    }
    const final = finalOutcome(res);
    msgs.push({ n: ++n, from: 'local', to: 'host', kind: final.kind === 'bad' ? 'fail' : 'r', text: final.text });
    return { msgs, notes, steps };
  }

  /** A reply in words: the detail when there is one (it names the referral or the records). */
  function replyText(st) {
    const what = OUTCOME_TEXT[st.outcome] || st.outcome;
    if (!st.detail) return what;
    return st.detail.toLowerCase().startsWith(String(st.outcome)) ? st.detail : `${what}: ${st.detail}`;
  }

  function finalOutcome(res) {
    const steps = [...(res.steps || [])].sort((a, b) => a.step - b.step);
    const last = steps[steps.length - 1];
    if (!last) return { kind: 'bad', text: 'no steps recorded' };
    if (last.outcome === 'answer' || (last.outcome === 'cache' && /answer|ttl|→|\d+\.\d+/.test(last.detail || ''))) return { kind: 'ok', text: `answer: ${last.detail || ''}`.trim() };
    if (last.outcome === 'cname') return { kind: 'ok', text: `alias: ${last.detail || ''}` };
    if (last.outcome === 'nxdomain' || last.outcome === 'nodata') return { kind: 'neg', text: OUTCOME_TEXT[last.outcome] };
    if (last.outcome === 'cache') return { kind: 'cache', text: `from the cache: ${last.detail || ''}` };
    if (last.outcome === 'referral') return { kind: 'ref', text: 'unfinished (last reply was a referral)' };
    return { kind: 'bad', text: `failed (SERVFAIL): ${last.detail || last.outcome}` };
  }

  /** The Kurose-Ross picture: host and local server at the left, servers asked at the right. */
  function drawResolution(res, sourceName) {
    const { msgs } = resolutionMessages(res);
    // Servers in the order first asked: root, TLD, authoritative stack top to bottom.
    const servers = [];
    const byKey = new Map();
    for (const m of msgs) {
      if (!m.step || m.to === 'cache') continue;
      const key = m.step.server;
      if (!byKey.has(key)) {
        const s = { key, step: m.step, msgs: [] };
        byKey.set(key, s);
        servers.push(s);
      }
      byKey.get(key).msgs.push(m);
    }
    const cacheMsgs = msgs.filter((m) => m.to === 'cache');
    const upstream = msgs.filter((m) => m.step && m.to !== 'cache');

    const W = 900;
    const GAP = 18; // between parallel arrows
    const L = { x: 40, w: 230 };
    const R = { x: 610, w: 260 };
    const top = 24;
    let y = top;
    for (const s of servers) {
      s.h = Math.max(66, s.msgs.length * GAP + 24);
      s.y = y;
      y += s.h + 26;
    }
    const serversBottom = servers.length ? y - 26 : top + 80;
    const cacheBox = cacheMsgs.length ? { x: L.x, y: top, w: L.w, h: 44 } : null;
    const localY = (cacheBox ? top + 44 + 70 : top) + 0;
    const localH = Math.max(96, upstream.length * GAP + 30);
    // Centre the local server on the servers' column when there is room.
    const centred = Math.max(localY, top + (serversBottom - top) / 2 - localH / 2);
    const local = { x: L.x, y: centred, w: L.w, h: localH };
    const host = { x: L.x, y: local.y + local.h + 96, w: L.w, h: 66 };
    const H = Math.max(serversBottom, host.y + host.h) + 24;

    const root = svg('svg', { class: 'dns-diagram', viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': `Resolution of ${res.qname} ${res.qtype}` });
    const defs = svg('defs');
    for (const k of ['q', 'r', 'fail', 'cache']) {
      defs.appendChild(svg('marker', { id: `arrow-${k}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse', class: `mk mk-${k}` }, svg('path', { d: 'M0,0 L10,5 L0,10 z' })));
    }
    root.appendChild(defs);
    root.appendChild(svg('title', null, `Resolution of ${res.qname} ${res.qtype}`));

    function node(box, kind, lines) {
      const g = svg('g', { class: `node node-${kind}` });
      g.appendChild(svg('rect', { x: box.x, y: box.y, width: box.w, height: box.h, rx: 10, ry: 10 }));
      const cy = box.y + box.h / 2 - ((lines.length - 1) * 17) / 2 + 5;
      lines.forEach((t, i) => g.appendChild(svg('text', { x: box.x + box.w / 2, y: cy + i * 17, class: i === 0 ? 'node-title' : 'node-sub', 'text-anchor': 'middle' }, t)));
      return g;
    }
    const clip = (s, n) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

    // Nodes
    root.appendChild(node(host, 'host', ['requesting host', clip(`asks ${res.qname} ${res.qtype}`, 30)]));
    root.appendChild(node(local, 'local', ['local DNS server', 'Wharf resolver', clip(sourceName || '', 30)].filter(Boolean)));
    if (cacheBox) root.appendChild(node(cacheBox, 'cache', ['resolver cache']));
    for (const s of servers) {
      const { role, kind } = serverRole(s.step);
      const name = s.step.serverName || s.key;
      const lines = [role, clip(name, 32)];
      if (s.step.serverName) lines.push(clip(s.key, 32));
      if (s.step.zone) lines.push(`zone ${s.step.zone}`);
      const box = { x: R.x, y: s.y, w: R.w, h: Math.max(s.h, lines.length * 17 + 16) };
      s.h = box.h;
      root.appendChild(node(box, kind, lines));
    }

    // Arrows between the local server and the servers asked. Anchors along the local server's
    // right edge follow the servers' order, so lines do not cross.
    const ordered = [];
    for (const s of servers) for (const m of s.msgs) ordered.push({ m, s });
    const localAnchor = new Map();
    const span = (ordered.length - 1) * GAP;
    ordered.forEach(({ m }, i) => localAnchor.set(m, local.y + local.h / 2 - span / 2 + i * GAP));
    const arrows = svg('g', { class: 'arrows' });
    const labels = svg('g', { class: 'labels' });
    function arrow(x1, y1, x2, y2, m, t) {
      const g = svg('g', { class: `msg msg-${m.kind}`, 'data-n': m.n });
      g.appendChild(svg('title', null, `${m.n}. ${m.text}`));
      g.appendChild(svg('line', { x1, y1, x2, y2, 'marker-end': `url(#arrow-${m.kind})` }));
      arrows.appendChild(g);
      const lx = x1 + (x2 - x1) * t;
      const ly = y1 + (y2 - y1) * t;
      const lg = svg('g', { class: `num num-${m.kind}` });
      lg.appendChild(svg('title', null, `${m.n}. ${m.text}`));
      lg.appendChild(svg('circle', { cx: lx, cy: ly, r: 11 }));
      lg.appendChild(svg('text', { x: lx, y: ly + 4.5, 'text-anchor': 'middle' }, String(m.n)));
      labels.appendChild(lg);
    }
    for (const s of servers) {
      const sspan = (s.msgs.length - 1) * GAP;
      s.msgs.forEach((m, i) => {
        const ly = localAnchor.get(m);
        const sy = s.y + s.h / 2 - sspan / 2 + i * GAP;
        const lx = local.x + local.w;
        const sx = R.x;
        if (m.from === 'local') arrow(lx, ly, sx - 2, sy, m, 0.4);
        else arrow(sx, sy, lx + 2, ly, m, 0.4);
      });
    }
    // Host ↔ local: the question goes up at the left, the answer comes down at the right.
    const first = msgs[0];
    const lastMsg = msgs[msgs.length - 1];
    arrow(host.x + host.w * 0.33, host.y, host.x + host.w * 0.33, local.y + local.h + 2, first, 0.5);
    arrow(host.x + host.w * 0.67, local.y + local.h, host.x + host.w * 0.67, host.y - 2, lastMsg, 0.5);
    // Cache look-ups: from the local server up to its cache.
    cacheMsgs.forEach((m, i) => {
      const x = local.x + (local.w * (i + 1)) / (cacheMsgs.length + 1);
      arrow(x, local.y, x, cacheBox.y + cacheBox.h + 2, m, 0.5);
    });
    root.appendChild(arrows);
    root.appendChild(labels);
    return root;
  }

  function participantName(key, res) {
    if (key === 'host') return 'requesting host';
    if (key === 'local') return 'local DNS server';
    if (key === 'cache') return 'resolver cache';
    const st = (res.steps || []).find((s) => s.server === key);
    if (!st) return key;
    const { role } = serverRole(st);
    return `${role} ${st.serverName ? `${st.serverName} (${key})` : key}`;
  }

  function resolutionTable(res) {
    const { msgs, notes } = resolutionMessages(res);
    const rows = msgs.map((m) => ({ m }));
    const t = table(
      [
        { title: '#', class: 'num-col', cell: (r) => el('span', { class: `numchip num-${r.m.kind}` }, String(r.m.n)) },
        { title: 'from', cell: (r) => participantName(r.m.from, res) },
        { title: 'to', cell: (r) => participantName(r.m.to, res) },
        { title: 'message', class: 'wrap', cell: (r) => (r.m.step && r.m.from !== 'local' ? [badge(r.m.step.outcome, outcomeKind(r.m.step.outcome)), ' ', r.m.text] : r.m.text) },
        { title: 'time', class: 'time', cell: (r) => (r.m.step ? fmtClock(r.m.step.at, true) : '') },
      ],
      rows,
      { class: 'dns-steps' },
    );
    const wrap = el('div', null, t);
    if (notes.length) wrap.appendChild(el('ul', { class: 'notes' }, notes.map((n) => el('li', null, badge(n.step.outcome, outcomeKind(n.step.outcome)), ' ', n.text))));
    return wrap;
  }

  async function viewDns(root, _args, c) {
    root.appendChild(
      heading(
        'DNS resolutions',
        'Each lookup the resolver made, drawn like the slides: the requesting host asks its local DNS server (1), which asks the root, TLD and authoritative servers in turn (iterated queries), then answers the host. Numbers give the order of the messages.',
        el('button', { type: 'button', id: 'dns-refresh', onclick: () => load(true).catch(fail) }, 'Refresh'),
      ),
    );
    // Every instance's resolver by default: in the lab each site has its own local DNS server.
    const many = state.sources.length > 1;
    const sourceSel = el('select', { id: 'dns-source', title: 'Whose resolver' }, el('option', { value: '' }, 'all instances'), state.sources.map((s) => el('option', { value: s.name }, s.name)));
    if (many) {
      root.appendChild(el('div', { class: 'toolbar' }, el('label', null, 'Resolver of ', sourceSel)));
      sourceSel.addEventListener('change', () => load(true).catch(fail));
    }
    const list = el('div', { class: 'dns-list', id: 'dns-list' });
    const detail = el('div', { class: 'dns-detail', id: 'dns-detail' });
    root.appendChild(el('div', { class: 'split' }, list, detail));
    let data = [];
    let selected = null;
    let lastKey = '';

    function keyOf(r) {
      return `${r.source}|${r.resolution}`;
    }
    function show(r) {
      selected = r ? keyOf(r) : null;
      for (const b of list.querySelectorAll('.res-item')) b.classList.toggle('active', b.dataset.key === selected);
      clear(detail);
      if (!r) {
        detail.appendChild(el('p', { class: 'empty-note' }, 'No resolutions yet. Ask the resolver something, for example: dig @127.0.0.1 -p PORT www.example.edu'));
        return;
      }
      const fin = finalOutcome(r);
      detail.appendChild(
        el(
          'div',
          { class: 'res-head' },
          el('h3', null, el('span', { class: 'mono' }, r.qname), ' ', badge(r.qtype, 'plain')),
          el('p', null, 'Result: ', badge(fin.text.split(':')[0], fin.kind), ' ', el('span', { class: 'mono' }, fin.text.includes(':') ? fin.text.slice(fin.text.indexOf(':') + 1).trim() : ''), el('span', { class: 'muted' }, `  · ${fmtWhen(r.at)} · resolution ${r.resolution}`)),
        ),
      );
      detail.appendChild(el('div', { class: 'diagram-wrap' }, drawResolution(r, r.source)));
      detail.appendChild(resolutionTable(r));
    }
    function render() {
      clear(list);
      if (data.length === 0) list.appendChild(el('p', { class: 'empty-note' }, 'No resolutions recorded yet.'));
      for (const r of data) {
        const fin = finalOutcome(r);
        const upstream = (r.steps || []).filter((s) => s.server && s.server !== '-' && s.server !== 'cache').length;
        const b = el(
          'button',
          { type: 'button', class: 'res-item', 'data-key': keyOf(r) },
          el('span', { class: 'res-name mono' }, r.qname),
          ' ',
          badge(r.qtype, 'plain'),
          el('span', { class: 'res-meta' }, badge(fin.text.split(':')[0], fin.kind), ` ${upstream} quer${upstream === 1 ? 'y' : 'ies'} · ${fmtClock(r.at)}`, many ? ` · ${r.source}` : ''),
        );
        b.addEventListener('click', () => show(r));
        list.appendChild(b);
      }
      const keep = data.find((r) => keyOf(r) === selected);
      show(keep || data[0] || null);
    }
    async function load(force) {
      const r = await api('GET', withQuery('/api/dns/resolutions', { limit: 100, source: many ? sourceSel.value : state.source }));
      if (!c.alive) return;
      const next = Array.isArray(r) ? r : [];
      const key = next.map((x) => `${keyOf(x)}:${(x.steps || []).length}`).join(',');
      if (!force && key === lastKey) return;
      lastKey = key;
      data = next;
      render();
    }
    await load(true);
    c.every(3000, () => load(false).catch(() => {}));
  }

  // ---------------------------------------------------------------------------------------------
  // Mail queue

  async function viewQueue(root, _args, c) {
    const body = el('div');
    root.appendChild(
      heading(
        'Mail queue',
        'Messages waiting to be relayed to another domain. Wharf retries with growing delays and bounces the message to its sender when it gives up.',
        el('button', { type: 'button', id: 'queue-refresh', onclick: () => load().catch(fail) }, 'Refresh'),
      ),
    );
    root.appendChild(body);
    let lastKey = null;
    async function load() {
      const items = (await api('GET', src('/api/queue'))) || [];
      if (!c.alive) return;
      // Redrawn on every poll so "in 2 s" stays true, unless the user is on one of its buttons.
      const key = JSON.stringify(items);
      if (key === lastKey && body.contains(document.activeElement)) return;
      lastKey = key;
      clear(body);
      body.appendChild(
        table(
          [
            { title: 'id', class: 'mono', cell: (q) => str(q.id) },
            { title: 'from', class: 'mono', cell: (q) => str(q.from) || '<>' },
            { title: 'to', class: 'mono', cell: (q) => (Array.isArray(q.to) ? q.to.join(', ') : str(q.to)) },
            { title: 'domain', class: 'mono', cell: (q) => str(q.domain) },
            { title: 'attempts', class: 'numeric', cell: (q) => str(q.attempts) },
            { title: 'next attempt', cell: (q) => (q.nextAttempt ? [fmtWhen(q.nextAttempt), el('span', { class: 'muted' }, ` (${fmtRelative(q.nextAttempt)})`)] : '') },
            { title: 'last error', class: 'wrap err-text', cell: (q) => str(q.lastError) },
            { title: 'queued', cell: (q) => fmtWhen(q.created) },
            {
              title: '',
              class: 'actions',
              cell: (q) => [
                el('button', {
                  type: 'button',
                  class: 'btn-small',
                  'data-action': 'retry',
                  onclick: (e) =>
                    act(e.currentTarget, async () => {
                      await api('POST', src(`/api/queue/${encodeURIComponent(q.id)}/retry`));
                      flash(`Message ${q.id} will be tried again now.`, 'ok');
                      lastKey = null;
                      await load();
                    }),
                }, 'Retry now'),
                el('button', {
                  type: 'button',
                  class: 'btn-small btn-danger',
                  'data-action': 'delete',
                  onclick: (e) =>
                    act(e.currentTarget, async () => {
                      if (!confirm(`Delete queued message ${q.id} to ${Array.isArray(q.to) ? q.to.join(', ') : q.to}? It will not be delivered and no bounce is sent.`)) return;
                      await api('DELETE', src(`/api/queue/${encodeURIComponent(q.id)}`));
                      flash(`Message ${q.id} deleted from the queue.`, 'ok');
                      lastKey = null;
                      await load();
                    }),
                }, 'Delete'),
              ],
            },
          ],
          items,
          { class: 'queue-table', empty: 'The queue is empty: every message has been delivered or bounced.' },
        ),
      );
    }
    await load();
    c.every(5000, () => load().catch(() => {}));
  }

  // ---------------------------------------------------------------------------------------------
  // Mailboxes → messages → one message

  async function viewMailboxes(root, args, c) {
    const [user, mailboxId, uid] = args;
    const crumbs = el('nav', { class: 'crumbs' }, el('a', { href: link('mailboxes') }, 'Mailboxes'));
    root.appendChild(heading('Mailboxes', 'The mail stored for each user, as POP3 and IMAP clients see it. Everything is shown as plain text.'));
    root.appendChild(crumbs);
    if (!user) return pickUser(root);
    crumbs.append(' › ', el('a', { href: link('mailboxes', user) }, user));
    if (!mailboxId) return listMailboxes(root, user, c);
    const boxes = (await api('GET', src('/api/mailboxes', { user }))) || [];
    const mb = boxes.find((b) => String(b.id) === String(mailboxId));
    crumbs.append(' › ', el('a', { href: link('mailboxes', user, mailboxId) }, mb ? mb.name : `mailbox ${mailboxId}`));
    if (uid === undefined) return listMessages(root, user, mailboxId, c);
    crumbs.append(' › ', `message ${uid}`);
    return showMessage(root, mailboxId, uid);
  }

  async function pickUser(root) {
    const input = el('input', { id: 'mb-user', type: 'text', placeholder: 'bob@hamburger.edu', size: 30, list: 'mb-users' });
    const datalist = el('datalist', { id: 'mb-users' });
    const form = el('form', { class: 'inline-form card' }, el('label', null, 'User ', input), datalist, el('button', { type: 'submit' }, 'Show mailboxes'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (input.value.trim()) location.hash = link('mailboxes', input.value.trim());
    });
    root.appendChild(form);
    const users = (await api('GET', src('/api/users'))) || [];
    for (const u of users) datalist.appendChild(el('option', { value: u.address }));
    root.appendChild(
      table(
        [
          { title: 'user', class: 'mono', cell: (u) => el('a', { href: link('mailboxes', u.address) }, u.address) },
          { title: '', cell: (u) => [u.admin ? badge('admin', 'ref') : null, u.disabled ? badge('disabled', 'bad') : null] },
        ],
        users,
        { empty: 'No users on this instance yet (add some under Admin).' },
      ),
    );
  }

  async function listMailboxes(root, user, c) {
    const boxes = (await api('GET', src('/api/mailboxes', { user }))) || [];
    if (!c.alive) return;
    root.appendChild(
      table(
        [
          { title: 'mailbox', cell: (b) => el('a', { href: link('mailboxes', user, b.id) }, b.name) },
          { title: 'special use', cell: (b) => str(b.specialUse) },
          { title: 'messages', class: 'numeric', cell: (b) => str(b.messages) },
          { title: 'unseen', class: 'numeric', cell: (b) => (b.unseen ? badge(String(b.unseen), 'ref') : '0') },
          { title: 'next UID', class: 'numeric', cell: (b) => str(b.uidNext) },
        ],
        boxes,
        { empty: 'This user has no mailboxes yet (they are created on first delivery or login).' },
      ),
    );
  }

  async function listMessages(root, user, mailboxId, c) {
    const PAGE = 50;
    const body = el('div');
    root.appendChild(body);
    let offset = 0;
    async function load() {
      const r = await api('GET', src(`/api/mailboxes/${encodeURIComponent(mailboxId)}/messages`, { offset, limit: PAGE }));
      if (!c.alive) return;
      clear(body);
      const msgs = (r && r.messages) || [];
      body.appendChild(
        table(
          [
            { title: 'UID', class: 'numeric', cell: (m) => str(m.uid) },
            { title: 'from', class: 'wrap', cell: (m) => str(m.from) },
            { title: 'subject', class: 'wrap', cell: (m) => el('a', { href: link('mailboxes', user, mailboxId, m.uid), class: 'msg-link' }, str(m.subject) || '(no subject)') },
            { title: 'date', cell: (m) => fmtWhen(m.date) },
            { title: 'size', class: 'numeric', cell: (m) => fmtBytes(m.size) },
            { title: 'flags', cell: (m) => (m.flags || []).map((f) => badge(f, 'plain')) },
          ],
          msgs,
          { class: 'messages', empty: 'This mailbox is empty.' },
        ),
      );
      const total = (r && r.total) || 0;
      if (total > PAGE) {
        const prev = el('button', { type: 'button', disabled: offset === 0 }, '‹ newer');
        const next = el('button', { type: 'button', disabled: offset + PAGE >= total }, 'older ›');
        prev.addEventListener('click', () => {
          offset = Math.max(0, offset - PAGE);
          load().catch(fail);
        });
        next.addEventListener('click', () => {
          offset += PAGE;
          load().catch(fail);
        });
        body.appendChild(el('div', { class: 'pager' }, prev, ` ${offset + 1}–${Math.min(total, offset + PAGE)} of ${total} `, next));
      }
    }
    await load();
  }

  function mimeTree(part, depth = 0) {
    if (!part) return el('p', { class: 'muted' }, 'no structure');
    const params = part.params && typeof part.params === 'object' ? Object.entries(part.params).map(([k, v]) => `${k}=${v}`) : [];
    const bits = [
      el('span', { class: 'mime-type mono' }, `${part.type || '?'}/${part.subtype || '?'}`),
      params.length ? el('span', { class: 'mono muted' }, `; ${params.join('; ')}`) : null,
      part.filename ? [' ', badge(`file ${part.filename}`, 'ref')] : null,
      el('span', { class: 'muted' }, ` · ${fmtBytes(part.size)}${part.lines !== undefined ? ` · ${part.lines} line${part.lines === 1 ? '' : 's'}` : ''}${Array.isArray(part.parts) && part.parts.length ? ` · ${part.parts.length} part${part.parts.length === 1 ? '' : 's'}` : ''}`),
    ];
    const li = el('li', null, bits);
    if (Array.isArray(part.parts) && part.parts.length && depth < 32) li.appendChild(el('ul', null, part.parts.map((p) => mimeTree(p, depth + 1))));
    return depth === 0 ? el('ul', { class: 'mime-tree', id: 'mime-tree' }, li) : li;
  }

  async function showMessage(root, mailboxId, uid) {
    const base = `/api/mailboxes/${encodeURIComponent(mailboxId)}/messages/${encodeURIComponent(uid)}`;
    const m = await api('GET', src(base));
    const headers = Array.isArray(m.headers) ? m.headers : [];
    const h = (name) => headers.find(([k]) => String(k).toLowerCase() === name)?.[1] ?? '';
    root.appendChild(
      el(
        'div',
        { class: 'card msg-summary' },
        el('h3', { id: 'msg-subject' }, h('subject') || '(no subject)'),
        el('dl', null, el('dt', null, 'From'), el('dd', { class: 'mono' }, h('from')), el('dt', null, 'To'), el('dd', { class: 'mono' }, h('to')), el('dt', null, 'Date'), el('dd', null, h('date') || fmtWhen(m.internalDate))),
        el('p', { class: 'muted' }, `UID ${m.uid} · ${fmtBytes(m.size)} · received ${fmtWhen(m.internalDate)} `, (m.flags || []).map((f) => badge(f, 'plain'))),
      ),
    );
    const rawUrl = src(`${base}/raw`);
    root.appendChild(
      el(
        'div',
        { class: 'msg-grid' },
        el(
          'section',
          { class: 'card' },
          el('h3', null, 'Header fields'),
          el('p', { class: 'hint' }, 'In the order they appear in the message; the newest Received: line is on top.'),
          table(
            [
              { title: 'field', class: 'mono hname', cell: ([k]) => str(k) },
              { title: 'value', class: 'mono wrap', cell: ([, v]) => str(v) },
            ],
            headers,
            { class: 'headers', empty: 'no header fields' },
          ),
        ),
        el('section', { class: 'card' }, el('h3', null, 'MIME structure'), mimeTree(m.mime)),
      ),
    );
    const pre = el('pre', { class: 'raw', id: 'raw-source' }, 'loading…');
    root.appendChild(el('section', { class: 'card' }, el('h3', null, 'Raw source ', el('a', { href: rawUrl, target: '_blank', rel: 'noopener', class: 'small' }, 'open as plain text')), pre));
    try {
      pre.textContent = await api('GET', rawUrl, undefined, { text: true });
    } catch (err) {
      pre.textContent = `could not load the raw message: ${err.message}`;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Proxy cache

  async function viewProxy(root, _args, c) {
    root.appendChild(heading('Proxy cache', 'What the caching HTTP proxy holds: a response is fresh while its age is below its freshness lifetime (RFC 9111); a fresh hit is served without asking the origin.', el('button', { type: 'button', onclick: () => load().catch(fail) }, 'Refresh')));
    // The instances that run a proxy; when the one chosen at the top does not, show one that does.
    const proxies = state.sources.filter((s) => (s.listeners || []).some((l) => l.service === 'proxy')).map((s) => s.name);
    let which = proxies.length === 0 || proxies.includes(state.source) ? state.source : proxies[0];
    if (proxies.length > 0 && state.sources.length > 1) {
      const sel = el('select', { id: 'proxy-source' }, proxies.map((n) => el('option', { value: n }, n)));
      if (!proxies.includes(which)) sel.appendChild(el('option', { value: which }, which));
      sel.value = which;
      sel.addEventListener('change', () => {
        which = sel.value;
        load().catch(fail);
      });
      root.appendChild(el('div', { class: 'toolbar' }, el('label', null, 'Proxy of ', sel)));
    }
    const body = el('div');
    root.appendChild(body);
    async function load() {
      const r = (await api('GET', withQuery('/api/proxy/cache', { source: which }))) || {};
      if (!c.alive) return;
      clear(body);
      if (!r.enabled) {
        body.appendChild(el('p', { class: 'empty-note' }, 'The proxy cache is not enabled on this instance.'));
        return;
      }
      const total = (r.hits || 0) + (r.misses || 0);
      body.appendChild(
        el(
          'div',
          { class: 'stats' },
          stat('entries', (r.entries || []).length),
          stat('size', `${fmtBytes(r.size)} of ${fmtBytes(r.maxSize)}`),
          stat('hits', r.hits ?? 0),
          stat('misses', r.misses ?? 0),
          stat('hit ratio', total ? `${Math.round((100 * (r.hits || 0)) / total)} %` : '—'),
        ),
      );
      body.appendChild(
        table(
          [
            { title: 'URL', class: 'mono wrap', cell: (e) => str(e.url) },
            { title: 'status', class: 'numeric', cell: (e) => str(e.status) },
            { title: 'size', class: 'numeric', cell: (e) => fmtBytes(e.size) },
            { title: 'stored', cell: (e) => fmtWhen(e.storedAt) },
            { title: 'age', class: 'numeric', cell: (e) => fmtSeconds(e.ageSeconds) },
            { title: 'fresh for', class: 'numeric', cell: (e) => fmtSeconds(e.freshForSeconds) },
            { title: '', cell: (e) => (e.fresh ? badge('fresh', 'ok') : badge('stale', 'neg')) },
            { title: 'hits', class: 'numeric', cell: (e) => str(e.hits) },
            { title: 'Vary', class: 'mono', cell: (e) => (Array.isArray(e.vary) ? e.vary.join(', ') : str(e.vary)) },
          ],
          r.entries || [],
          { class: 'proxy-table', empty: 'The cache is empty. Fetch something through the proxy, e.g. curl -x http://127.0.0.1:PORT http://…' },
        ),
      );
    }
    await load();
    c.every(5000, () => load().catch(() => {}));
  }

  function stat(label, value) {
    return el('div', { class: 'stat' }, el('div', { class: 'stat-value' }, String(value)), el('div', { class: 'stat-label' }, label));
  }

  // ---------------------------------------------------------------------------------------------
  // Counters

  async function viewCounters(root, _args, c) {
    root.appendChild(heading('Counters', 'Connections and transcript lines per service, refreshed every two seconds. The same numbers are at /metrics for Prometheus.'));
    const body = el('div', { class: 'counters' });
    root.appendChild(body);
    const previous = new Map();
    async function load() {
      const r = (await api('GET', '/api/counters')) || {};
      if (!c.alive) return;
      const sources = r.sources || {};
      clear(body);
      const names = Object.keys(sources);
      if (names.length === 0) body.appendChild(el('p', { class: 'empty-note' }, 'No counters yet.'));
      for (const name of names) {
        const services = sources[name] || {};
        const info = state.sources.find((s) => s.name === name);
        const listeners = info && Array.isArray(info.listeners) ? info.listeners : [];
        const cols = [];
        for (const v of Object.values(services)) if (v && typeof v === 'object') for (const k of Object.keys(v)) if (!cols.includes(k)) cols.push(k);
        const order = ['connections', 'active', 'lines'];
        for (const k of order) if (!cols.includes(k)) cols.push(k);
        cols.sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99));
        // One row per service: the ones listening (with their address) and the ones counted.
        const rows = [];
        const seenSvc = new Set();
        for (const l of listeners) {
          const row = rows.find((x) => x.svc === l.service);
          const where = `${l.host}:${l.port}${l.tls ? ' TLS' : ''}`;
          if (row) row.where.push(where);
          else rows.push({ svc: l.service, where: [where], v: services[l.service] || {} });
          seenSvc.add(l.service);
        }
        for (const [svc, v] of Object.entries(services)) if (!seenSvc.has(svc)) rows.push({ svc, where: [], v: v || {} });
        const t = table(
          [
            { title: 'service', cell: (r2) => el('span', { class: `svc svc-${r2.svc}` }, r2.svc) },
            { title: 'address', class: 'mono addr', cell: (r2) => (r2.where.length ? r2.where.join(', ') : el('span', { class: 'muted' }, 'client only')) },
          ].concat(
            cols.map((k) => ({
              title: k,
              class: 'numeric',
              cell: (r2) => {
                const val = r2.v[k] ?? 0;
                const id = `${name}|${r2.svc}|${k}`;
                const changed = previous.has(id) && previous.get(id) !== val;
                previous.set(id, val);
                return el('span', { class: changed ? 'changed' : null }, typeof val === 'object' ? JSON.stringify(val) : str(val));
              },
            })),
          ),
          rows,
          { empty: 'no services' },
        );
        body.appendChild(
          el(
            'section',
            { class: 'card counter-card', 'data-source': name },
            el('h3', null, name, info && info.hostname && info.hostname !== name ? el('span', { class: 'muted' }, ` ${info.hostname}`) : null),
            t,
          ),
        );
      }
    }
    await load();
    c.every(2000, () => load().catch(() => {}));
  }

  // ---------------------------------------------------------------------------------------------
  // Admin: domains, users, zones

  async function viewAdmin(root, args, c) {
    const [section, name] = args;
    const tabs = el(
      'nav',
      { class: 'subnav' },
      el('a', { href: link('admin'), class: !section ? 'active' : null }, 'Domains and users'),
      el('a', { href: link('admin', 'zones'), class: section === 'zones' ? 'active' : null }, 'DNS zones'),
      el('a', { href: link('admin', 'tokens'), class: section === 'tokens' ? 'active' : null }, 'API tokens'),
    );
    root.appendChild(heading('Administration', `Changes apply to the instance ${state.source || ''} at once, like the wharf command line.`));
    root.appendChild(tabs);
    if (section === 'zones' && name) return adminZone(root, name, c);
    if (section === 'zones') return adminZones(root, c);
    if (section === 'tokens') return adminTokens(root, c);
    return adminDomainsUsers(root, c);
  }

  async function adminDomainsUsers(root, c) {
    const grid = el('div', { class: 'admin-grid' });
    root.appendChild(grid);
    const domainsCard = el('section', { class: 'card', id: 'admin-domains' });
    const usersCard = el('section', { class: 'card', id: 'admin-users' });
    grid.append(domainsCard, usersCard);
    let domainFilter = '';

    async function loadDomains() {
      const domains = (await api('GET', src('/api/domains'))) || [];
      if (!c.alive) return;
      clear(domainsCard);
      domainsCard.appendChild(el('h3', null, 'Mail domains'));
      const input = el('input', { type: 'text', placeholder: 'example.edu', id: 'new-domain', required: true });
      const form = el('form', { class: 'inline-form' }, input, el('button', { type: 'submit' }, 'Add domain'));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        act(form.querySelector('button'), async () => {
          await api('POST', src('/api/domains'), { name: input.value.trim() });
          flash(`Domain ${input.value.trim()} added.`, 'ok');
          await loadDomains();
        });
      });
      domainsCard.appendChild(
        table(
          [
            {
              title: 'domain',
              class: 'mono',
              cell: (d) => {
                const a = el('a', { href: '#', class: domainFilter === d.name ? 'active' : null, title: 'Show only this domain\'s users' }, d.name);
                a.addEventListener('click', (e) => {
                  e.preventDefault();
                  domainFilter = domainFilter === d.name ? '' : d.name;
                  loadDomains().catch(fail);
                  loadUsers().catch(fail);
                });
                return a;
              },
            },
            {
              title: '',
              class: 'actions',
              cell: (d) =>
                el('button', {
                  type: 'button',
                  class: 'btn-small btn-danger',
                  onclick: (e) =>
                    act(e.currentTarget, async () => {
                      if (!confirm(`Delete the domain ${d.name}?`)) return;
                      await api('DELETE', src(`/api/domains/${encodeURIComponent(d.name)}`));
                      flash(`Domain ${d.name} deleted.`, 'ok');
                      if (domainFilter === d.name) domainFilter = '';
                      await loadDomains();
                      await loadUsers();
                    }),
                }, 'Delete'),
            },
          ],
          domains,
          { empty: 'No domains yet.' },
        ),
      );
      domainsCard.appendChild(form);
    }

    async function loadUsers() {
      const users = (await api('GET', src('/api/users', { domain: domainFilter }))) || [];
      if (!c.alive) return;
      clear(usersCard);
      usersCard.appendChild(el('h3', null, 'Users', domainFilter ? el('span', { class: 'muted' }, ` in ${domainFilter}`) : null));
      const addr = el('input', { type: 'text', placeholder: domainFilter ? `alice@${domainFilter}` : 'alice@example.edu', id: 'new-user', required: true, autocomplete: 'off' });
      const pw = el('input', { type: 'password', placeholder: 'password', id: 'new-user-password', required: true, autocomplete: 'new-password' });
      const admin = el('input', { type: 'checkbox', id: 'new-user-admin' });
      const form = el('form', { class: 'inline-form' }, addr, pw, el('label', { class: 'check' }, admin, ' admin'), el('button', { type: 'submit' }, 'Add user'));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        act(form.querySelector('button'), async () => {
          await api('POST', src('/api/users'), { address: addr.value.trim(), password: pw.value, admin: admin.checked });
          flash(`User ${addr.value.trim()} added.`, 'ok');
          await loadUsers();
        });
      });
      usersCard.appendChild(
        table(
          [
            { title: 'address', class: 'mono', cell: (u) => el('a', { href: link('mailboxes', u.address), title: 'Show this user\'s mailboxes' }, u.address) },
            { title: '', cell: (u) => [u.admin ? badge('admin', 'ref') : null, u.disabled ? badge('disabled', 'bad') : null] },
            {
              title: '',
              class: 'actions',
              cell: (u) => {
                const cellBox = el('span', { class: 'row-actions' });
                const reset = el('button', { type: 'button', class: 'btn-small btn-quiet' }, 'Reset password');
                const del = el('button', {
                  type: 'button',
                  class: 'btn-small btn-danger',
                  onclick: (e) =>
                    act(e.currentTarget, async () => {
                      if (!confirm(`Delete the user ${u.address} and their mail?`)) return;
                      await api('DELETE', src(`/api/users/${encodeURIComponent(u.address)}`));
                      flash(`User ${u.address} deleted.`, 'ok');
                      await loadUsers();
                    }),
                }, 'Delete');
                reset.addEventListener('click', () => {
                  const np = el('input', { type: 'password', placeholder: 'new password', required: true, autocomplete: 'new-password' });
                  const f = el('form', { class: 'inline-form tight' }, np, el('button', { type: 'submit', class: 'btn-small' }, 'Save'), el('button', { type: 'button', class: 'btn-small btn-quiet', onclick: () => loadUsers().catch(fail) }, 'Cancel'));
                  f.addEventListener('submit', (e) => {
                    e.preventDefault();
                    act(f.querySelector('button'), async () => {
                      await api('POST', src(`/api/users/${encodeURIComponent(u.address)}/password`), { password: np.value });
                      flash(`Password of ${u.address} changed.`, 'ok');
                      await loadUsers();
                    });
                  });
                  clear(cellBox).appendChild(f);
                  np.focus();
                });
                cellBox.append(reset, del);
                return cellBox;
              },
            },
          ],
          users,
          { empty: 'No users yet.' },
        ),
      );
      usersCard.appendChild(form);
    }
    await Promise.all([loadDomains(), loadUsers()]);
  }

  async function adminTokens(root, c) {
    const card = el('section', { class: 'card', id: 'admin-tokens' });
    root.appendChild(card);
    const shown = el('div', { class: 'token-once', hidden: true });
    async function load() {
      const tokens = (await api('GET', '/api/tokens')) || [];
      if (!c.alive) return;
      clear(card);
      card.appendChild(el('h3', null, 'API tokens'));
      card.appendChild(el('p', { class: 'hint' }, 'For scripts and monitoring: send "Authorization: Bearer TOKEN". A token is shown once, when it is made; only its hash is kept.'));
      card.appendChild(shown);
      card.appendChild(
        table(
          [
            { title: 'name', class: 'mono', cell: (t) => str(t.name) },
            { title: 'created', cell: (t) => fmtWhen(t.created) },
            {
              title: '',
              class: 'actions',
              cell: (t) =>
                el('button', {
                  type: 'button',
                  class: 'btn-small btn-danger',
                  onclick: (e) =>
                    act(e.currentTarget, async () => {
                      if (!confirm(`Revoke the token ${t.name}? Scripts using it stop working.`)) return;
                      await api('DELETE', `/api/tokens/${encodeURIComponent(t.name)}`);
                      flash(`Token ${t.name} revoked.`, 'ok');
                      shown.hidden = true;
                      await load();
                    }),
                }, 'Revoke'),
            },
          ],
          tokens,
          { empty: 'No tokens yet.' },
        ),
      );
      const name = el('input', { type: 'text', id: 'new-token', placeholder: 'name, e.g. prometheus', required: true });
      const form = el('form', { class: 'inline-form' }, name, el('button', { type: 'submit' }, 'Make a token'));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        act(form.querySelector('button'), async () => {
          const r = await api('POST', '/api/tokens', { name: name.value.trim() });
          await load();
          clear(shown).append(el('strong', null, `Token ${name.value.trim()}: `), el('code', { class: 'mono', id: 'token-value' }, str(r && r.token)), el('span', { class: 'muted' }, '  Copy it now; it is not shown again.'));
          shown.hidden = false;
        });
      });
      card.appendChild(form);
    }
    await load();
  }

  async function adminZones(root, c) {
    const body = el('section', { class: 'card', id: 'admin-zones' });
    root.appendChild(body);
    const zones = (await api('GET', src('/api/zones'))) || [];
    if (!c.alive) return;
    body.appendChild(el('h3', null, 'Zones served by this instance'));
    body.appendChild(
      table(
        [
          { title: 'zone', class: 'mono', cell: (z) => el('a', { href: link('admin', 'zones', z.name) }, z.name) },
          { title: 'SOA serial', class: 'numeric mono', cell: (z) => str(z.serial) },
        ],
        zones,
        { empty: 'This instance serves no zones.' },
      ),
    );
    const text = el('textarea', { id: 'zone-import', rows: 10, cols: 80, spellcheck: 'false', placeholder: '$ORIGIN example.edu.\n$TTL 3600\n@  IN SOA ns1 hostmaster 1 7200 900 1209600 300\n   IN NS ns1\nns1 IN A 127.0.0.1' });
    const zname = el('input', { type: 'text', id: 'zone-import-name', placeholder: 'zone name, e.g. example.edu. (or start the text with $ORIGIN)', size: 50 });
    const form = el(
      'form',
      { class: 'card import-form' },
      el('h3', null, 'Import a zone (master file, RFC 1035 §5)'),
      el('p', { class: 'hint' }, 'Replaces the zone if it exists. Mistakes are reported with their line and column.'),
      text,
      el('div', { class: 'inline-form' }, zname, el('button', { type: 'submit' }, 'Import')),
    );
    const problem = el('p', { class: 'error', id: 'zone-import-error', role: 'alert', hidden: true });
    form.insertBefore(problem, form.lastChild);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const button = form.querySelector('button');
      button.disabled = true;
      problem.hidden = true;
      try {
        const r = await api('POST', src('/api/zones'), zname.value.trim() ? { text: text.value, name: zname.value.trim() } : { text: text.value });
        flash(`Zone ${(r && r.name) || ''} imported.`, 'ok');
        if (r && r.name) location.hash = link('admin', 'zones', r.name);
        else route();
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) return;
        const b = err instanceof ApiError ? err.body : null;
        if (b && Number.isInteger(b.line)) {
          // "zone:5:9: bad IPv4 address" -> "Line 5, column 9: bad IPv4 address", and put the cursor there.
          const what = String(b.error || err.message).replace(/^[^:\s]*:\d+(?::\d+)?:\s*/, '');
          problem.textContent = `Line ${b.line}${Number.isInteger(b.column) ? `, column ${b.column}` : ''}: ${what}`;
          const lines = text.value.split('\n');
          const at = lines.slice(0, b.line - 1).reduce((n, l) => n + l.length + 1, 0) + Math.max(0, (b.column || 1) - 1);
          text.focus();
          text.setSelectionRange(at, Math.min(text.value.length, at + (lines[b.line - 1] || '').length - Math.max(0, (b.column || 1) - 1)));
        } else {
          problem.textContent = err.message;
        }
        problem.hidden = false;
      } finally {
        button.disabled = false;
      }
    });
    root.appendChild(form);
  }

  async function adminZone(root, name, c) {
    const body = el('div');
    root.appendChild(body);
    async function load() {
      const z = await api('GET', src(`/api/zones/${encodeURIComponent(name)}`));
      if (!c.alive) return;
      clear(body);
      body.appendChild(el('h3', { class: 'zone-title' }, el('a', { href: link('admin', 'zones') }, 'Zones'), ' › ', el('span', { class: 'mono' }, z.name), el('span', { class: 'muted' }, `  SOA serial ${z.serial}`)));
      const recTable = table(
        [
          { title: 'name', class: 'mono', cell: (r) => str(r.name) },
          { title: 'TTL', class: 'numeric mono', cell: (r) => str(r.ttl) },
          { title: 'class', class: 'mono', cell: (r) => str(r.class) },
          { title: 'type', class: 'mono', cell: (r) => badge(str(r.type), 'plain') },
          { title: 'data', class: 'mono wrap', cell: (r) => str(r.data) },
          {
            title: '',
            class: 'actions',
            cell: (r) =>
              r.type === 'SOA'
                ? ''
                : el('button', {
                    type: 'button',
                    class: 'btn-small btn-danger',
                    onclick: (e) =>
                      act(e.currentTarget, async () => {
                        if (!confirm(`Delete ${r.name} ${r.type} ${r.data}?`)) return;
                        await api('DELETE', src(`/api/zones/${encodeURIComponent(z.name)}/records`), { name: r.name, type: r.type, data: r.data });
                        flash('Record deleted; the SOA serial went up.', 'ok');
                        await load();
                      }),
                  }, 'Delete'),
          },
        ],
        z.records || [],
        { class: 'records', empty: 'no records' },
      );
      const rn = el('input', { type: 'text', placeholder: `www.${z.name.replace(/\.$/, '')}.`, id: 'rec-name', required: true, size: 24 });
      const rt = el('input', { type: 'number', value: 3600, id: 'rec-ttl', min: 0, size: 6, class: 'ttl' });
      const ty = el('select', { id: 'rec-type' }, ['A', 'AAAA', 'CNAME', 'MX', 'NS', 'TXT', 'SRV', 'PTR', 'CAA'].map((t) => el('option', { value: t }, t)));
      const rd = el('input', { type: 'text', placeholder: '127.0.0.1', id: 'rec-data', required: true, size: 30 });
      const form = el('form', { class: 'inline-form' }, rn, rt, ty, rd, el('button', { type: 'submit' }, 'Add record'));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        act(form.querySelector('button'), async () => {
          await api('POST', src(`/api/zones/${encodeURIComponent(z.name)}/records`), { name: rn.value.trim(), ttl: Number(rt.value), type: ty.value, data: rd.value.trim() });
          flash('Record added; the SOA serial went up.', 'ok');
          await load();
        });
      });
      const delZone = el('button', {
        type: 'button',
        class: 'btn-danger',
        onclick: (e) =>
          act(e.currentTarget, async () => {
            if (!confirm(`Delete the whole zone ${z.name}?`)) return;
            await api('DELETE', src(`/api/zones/${encodeURIComponent(z.name)}`));
            flash(`Zone ${z.name} deleted.`, 'ok');
            location.hash = link('admin', 'zones');
          }),
      }, 'Delete zone');
      body.appendChild(el('section', { class: 'card' }, el('h3', null, 'Records'), recTable, el('h4', null, 'Add a record'), form));
      body.appendChild(el('section', { class: 'card' }, el('h3', null, 'As a master file'), el('pre', { class: 'raw zone-text' }, str(z.text))));
      body.appendChild(el('p', null, delZone));
    }
    await load();
  }

  // ---------------------------------------------------------------------------------------------
  // Start

  async function start() {
    wireChrome();
    try {
      const me = await fetch('/api/me', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (me.ok) {
        const j = await me.json();
        await onLoggedIn(j.user);
        return;
      }
    } catch {
      /* server unreachable: show the form anyway */
    }
    showLogin('');
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
