// pg-authsim explorer: the page sends the form to the local server (or, in a static export,
// shows the presets' answers from data.js) and draws what comes back. No framework, no network.
(function () {
  'use strict';
  const STATIC = window.PG_AUTHSIM_DATA || null;
  const $ = (id) => document.getElementById(id);
  const form = $('form');
  let presets = [];
  let choices = null;
  let timer = null;
  let runSeq = 0;

  async function getJson(url, body) {
    const res = await fetch(url, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const data = await res.json();
    if (!res.ok) throw new Error(data.error || res.statusText);
    return data;
  }

  function option(select, value, text) {
    const o = document.createElement('option');
    o.value = value;
    o.textContent = text;
    select.appendChild(o);
  }

  function confValue(conf, name) {
    const m = new RegExp('^\\s*' + name.replace(/\./g, '\\.') + '\\s*=\\s*\'?([^\'#\\n]*)', 'm').exec(conf);
    return m ? m[1].trim() : null;
  }

  function fillForm(s) {
    $('conf').value = s.files.postgresqlConf;
    $('hba').value = s.files.hba;
    $('roles').value = s.files.roles;
    const ssl = confValue(s.files.postgresqlConf, 'ssl');
    $('ssl').value = ssl === 'on' || ssl === 'true' ? 'on' : 'off';
    $('authDelayMs').value = confValue(s.files.postgresqlConf, 'auth_delay.milliseconds') || '0';
    $('pgVersion').value = s.pgVersion || confValue(s.files.postgresqlConf, 'server_version') || '15';
    $('client').value = s.client;
    $('sslmode').value = s.sslmode === null ? '' : s.sslmode;
    $('user').value = s.user || '';
    for (const r of form.querySelectorAll('input[name=password]')) r.checked = r.value === s.password;
    for (const i of form.querySelectorAll('[data-option]')) i.value = (s.options && s.options[i.dataset.option]) || '';
  }

  function request() {
    const options = {};
    for (const i of form.querySelectorAll('[data-option]')) if (i.value.trim()) options[i.dataset.option] = i.value.trim();
    const delay = Number($('authDelayMs').value);
    return {
      files: { postgresqlConf: $('conf').value, hba: $('hba').value, roles: $('roles').value },
      pgVersion: $('pgVersion').value,
      ssl: $('ssl').value === 'on',
      ...(Number.isFinite(delay) ? { authDelayMs: delay } : {}),
      client: $('client').value,
      sslmode: $('sslmode').value === '' ? null : $('sslmode').value,
      password: (form.querySelector('input[name=password]:checked') || { value: 'wrong' }).value,
      ...($('user').value.trim() ? { user: $('user').value.trim() } : {}),
      options,
    };
  }

  function show(result) {
    $('startup-error').hidden = result.ok;
    $('summary').hidden = !result.ok;
    $('client-message').hidden = true;
    if (!result.ok) {
      $('startup-log').textContent = result.startupLog;
      $('status').textContent = 'The server refused to start with these files.';
      for (const id of ['diagram', 'story', 'log', 'mermaid']) $(id).textContent = '';
      $('hooks').textContent = '';
      return;
    }
    const st = result.story;
    const s = st.summary;
    $('status').textContent = st.title + ' · ' + st.settings.join(' · ');
    $('sum-connections').textContent = String(s.connections);
    $('sum-hooks').textContent = s.hookCalls.length ? s.hookCalls.length + ' (' + s.hookCalls.join(' ') + ')' : '0';
    $('sum-delay').textContent = s.authDelayMs + ' ms';
    $('sum-virtual').textContent = s.virtualMs + ' ms';
    $('sum-wall').textContent = result.wallMs + ' ms';
    $('sum-outcome').textContent = s.outcome === 'ok' ? 'connected' : 'error';
    $('sum-outcome').className = s.outcome;
    if (s.clientMessage) {
      $('client-message').hidden = false;
      $('client-message').textContent = s.clientMessage;
    }
    // The SVG is drawn by pg-authsim from escaped text; it holds no script.
    $('diagram').innerHTML = result.svg;
    $('story').textContent = result.text;
    $('log').textContent = st.serverLog || '(nothing logged)';
    $('mermaid').textContent = result.mermaid;
    const hooks = $('hooks');
    hooks.textContent = '';
    const calls = st.steps.filter((x) => x.kind === 'server' && (x.tone === 'hook' || x.tone === 'delay'));
    if (!calls.length) { const li = document.createElement('li'); li.textContent = 'ClientAuthentication_hook was never called.'; hooks.appendChild(li); }
    for (const c of calls) {
      const li = document.createElement('li');
      li.textContent = c.t + ' ms · connection ' + c.connection + ' · ' + c.text;
      hooks.appendChild(li);
    }
  }

  async function run() {
    const seq = ++runSeq;
    if (STATIC) {
      const id = $('preset').value;
      if (STATIC.results[id]) show(STATIC.results[id]);
      return;
    }
    $('status').textContent = 'Running…';
    try {
      const result = await getJson('api/explain', request());
      if (seq === runSeq) show(result);
    } catch (err) {
      if (seq === runSeq) $('status').textContent = 'Could not run: ' + err.message;
    }
  }

  function schedule() {
    if (!$('auto').checked) return;
    clearTimeout(timer);
    timer = setTimeout(run, 350);
  }

  async function runMatrix() {
    const box = $('matrix');
    if (STATIC) { box.textContent = 'The matrix needs the live explorer: npx pg-authsim web'; return; }
    box.textContent = 'Running every client × sslmode × password…';
    const req = request();
    const data = await getJson('api/matrix', req);
    box.textContent = '';
    if (!data.ok) { box.textContent = data.startupLog; return; }
    const sslmodes = choices.sslmodes;
    const kinds = ['right', 'wrong', 'none'];
    const table = document.createElement('table');
    table.className = 'matrix';
    const cap = document.createElement('caption');
    cap.textContent = 'Hook calls per login (' + data.wallMs + ' ms of wall time for ' + data.cells.length + ' logins)';
    table.appendChild(cap);
    const head = table.insertRow();
    head.appendChild(Object.assign(document.createElement('th'), { textContent: 'client' }));
    for (const m of sslmodes) for (const k of kinds) {
      const th = document.createElement('th');
      th.scope = 'col';
      th.textContent = m + ' / ' + k;
      head.appendChild(th);
    }
    for (const client of data.clients) {
      const tr = table.insertRow();
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = client;
      tr.appendChild(th);
      for (const m of sslmodes) for (const k of kinds) {
        const cell = data.cells.find((c) => c.client === client && c.sslmode === m && c.password === k);
        const td = tr.insertCell();
        if (!cell) continue;
        const b = document.createElement('button');
        b.type = 'button';
        const n = cell.hookCalls.length;
        b.className = 'h' + Math.min(n, 3) + (cell.outcome === 'ok' ? ' ok' : '');
        b.textContent = String(n);
        b.setAttribute('aria-label', client + ', sslmode ' + m + ', ' + k + ' password: ' + n + ' hook calls (' + (cell.hookCalls.join(' ') || 'none') + '), ' + cell.connections + ' connections, ' + cell.outcome);
        b.title = cell.hookCalls.join(' ') + ' · auth_delay ' + cell.authDelayMs + ' ms';
        b.addEventListener('click', () => {
          $('client').value = client;
          $('sslmode').value = m;
          for (const r of form.querySelectorAll('input[name=password]')) r.checked = r.value === k;
          $('preset').value = '';
          selectTab($('tab-diagram'));
          run();
        });
        td.appendChild(b);
      }
    }
    box.appendChild(table);
  }

  // Tabs: arrow keys move between them, as the ARIA tabs pattern asks.
  const tabs = Array.from(document.querySelectorAll('[role=tab]'));
  function selectTab(tab) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute('aria-controls')).hidden = !on;
    }
  }
  for (const t of tabs) {
    t.addEventListener('click', () => selectTab(t));
    t.addEventListener('keydown', (e) => {
      const i = tabs.indexOf(t);
      let next = null;
      if (e.key === 'ArrowRight') next = tabs[(i + 1) % tabs.length];
      if (e.key === 'ArrowLeft') next = tabs[(i + tabs.length - 1) % tabs.length];
      if (e.key === 'Home') next = tabs[0];
      if (e.key === 'End') next = tabs[tabs.length - 1];
      if (next) { e.preventDefault(); selectTab(next); next.focus(); }
    });
  }

  async function init() {
    choices = STATIC ? STATIC.choices : await getJson('api/choices');
    presets = STATIC ? STATIC.presets : await getJson('api/presets');
    for (const v of choices.versions) option($('pgVersion'), v, v);
    for (const c of choices.clients) option($('client'), c.name, c.name + ' — ' + c.describe);
    option($('sslmode'), '', '(unset: the driver default)');
    for (const m of choices.sslmodes) option($('sslmode'), m, m);
    for (const p of presets) option($('preset'), p.id, p.title);
    $('preset').addEventListener('change', () => {
      const p = presets.find((x) => x.id === $('preset').value);
      $('lesson').textContent = p ? p.lesson : '';
      if (p) { fillForm(p.scenario); run(); }
    });
    form.addEventListener('input', (e) => {
      if (e.target === $('preset') || e.target === $('auto')) return;
      if (!STATIC) { $('preset').value = ''; $('lesson').textContent = ''; }
      schedule();
    });
    form.addEventListener('submit', (e) => { e.preventDefault(); clearTimeout(timer); run(); });
    document.addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); clearTimeout(timer); run(); } });
    $('run-matrix').addEventListener('click', () => { runMatrix().catch((err) => { $('matrix').textContent = 'Could not run: ' + err.message; }); });
    if (STATIC) {
      $('mode-note').hidden = false;
      $('mode-note').textContent = 'A static export: choose a preset to see it. To change the server or the client, run: npx pg-authsim web';
      for (const el of form.querySelectorAll('input, textarea, select:not(#preset), #run')) el.disabled = true;
    }
    $('preset').value = presets[0].id;
    $('lesson').textContent = presets[0].lesson;
    fillForm(presets[0].scenario);
    await run();
  }

  init().catch((err) => { $('status').textContent = 'Could not start: ' + err.message; });
})();
