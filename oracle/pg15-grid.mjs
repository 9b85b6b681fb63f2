// Runs the psql case grid against a throwaway PostgreSQL 15 cluster prepared by
// run-pg15-grid.sh, and writes the measured results as JSON. Not meant to be run
// directly: the shell script sets up (and tears down) everything this expects.
//
//   node oracle/pg15-grid.mjs --work DIR --port P --pgbin BIN --out DIR [--quick]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

// ---------------------------------------------------------------- arguments
const argv = process.argv.slice(2);
function arg(name) {
  const i = argv.indexOf(name);
  if (i < 0 || i + 1 >= argv.length) throw new Error(`missing ${name}`);
  return argv[i + 1];
}
const WORK = arg('--work');
const PORT = Number(arg('--port'));
const PGBIN = arg('--pgbin');
const OUT = arg('--out');
const QUICK = argv.includes('--quick');

const DATA = path.join(WORK, 'data');
const LOG = path.join(WORK, 'server.log');
const CA = path.join(WORK, 'certs', 'ca.crt');
const SOCK = path.join(WORK, 'sock');
const PATH_ENV = `${PGBIN}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin`;

const GRID_AUTH_DELAY_MS = 200;
const SEED_AUTH_DELAY_MS = 2000;
const PASSWORDS = { right: 'secret', wrong: 'not-the-password' };
const HBA_TEMPLATE = '{hba} all all 0.0.0.0/0 {method}';

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const nowMs = () => Number(process.hrtime.bigint() / 1000n) / 1000;

// ---------------------------------------------------------------- server control
function asPostgres(cmd, args) {
  return execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], {
    encoding: 'utf8',
    env: { PATH: PATH_ENV, LC_ALL: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function postmasterPid() {
  const f = path.join(DATA, 'postmaster.pid');
  if (!fs.existsSync(f)) return null;
  return Number(fs.readFileSync(f, 'utf8').split('\n')[0]);
}

function childrenOf(ppid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat;
    try { stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8'); } catch { continue; }
    // Fields after the parenthesised command name: state ppid ...
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(rest[1]) === ppid) out.push(Number(d));
  }
  return out;
}

function isAlive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

let baseline = new Set(); // postmaster + its auxiliary processes; their log lines are not a case's

const baseConf = () => [
  `listen_addresses = '127.0.0.1'`,
  `port = ${PORT}`,
  `unix_socket_directories = '${SOCK}'`,
  // Absolute path, so the module is loaded from our temp build. hook_probe first: auth_delay
  // then chains to it, so the probe logs before auth_delay sleeps.
  `shared_preload_libraries = '${path.join(WORK, 'hook_probe', 'hook_probe')},auth_delay'`,
  `log_connections = on`,
  `log_line_prefix = '%m [%p] '`,
  `log_timezone = 'UTC'`,
  `lc_messages = 'C'`,
  `log_checkpoints = off`,
  `autovacuum = off`,
  `password_encryption = 'scram-sha-256'`,
  `ssl_cert_file = '${path.join(WORK, 'certs', 'server.crt')}'`,
  `ssl_key_file = '${path.join(WORK, 'certs', 'server.key')}'`,
];

const BORING_STARTUP = [
  /starting PostgreSQL/, /listening on /, /database system was shut down/, /database system is ready/,
  /received fast shutdown request/, /aborting any active transactions/, /background worker .* exited/,
  /shutting down/, /database system is shut down/, /checkpoint /,
];

/** (Re)start the server with the given settings; returns the notable startup log lines. */
function configure({ ssl, hbaLines, authDelayMs }) {
  const conf = [...baseConf(), `ssl = ${ssl ? 'on' : 'off'}`, `auth_delay.milliseconds = ${authDelayMs}`];
  fs.writeFileSync(path.join(DATA, 'oracle.conf'), conf.join('\n') + '\n');
  fs.writeFileSync(path.join(DATA, 'pg_hba.conf'), hbaLines.join('\n') + '\n');
  if (postmasterPid() !== null) asPostgres(path.join(PGBIN, 'pg_ctl'), ['-D', DATA, '-m', 'fast', '-w', 'stop']);
  const off = logSize();
  asPostgres(path.join(PGBIN, 'pg_ctl'), ['-D', DATA, '-l', LOG, '-w', 'start']);
  const pm = postmasterPid();
  // Wait until the auxiliary processes (incl. the logical replication launcher) are all up.
  let prev = '';
  for (let i = 0; i < 200; i++) {
    const cur = childrenOf(pm).sort().join(',');
    if (cur === prev && cur !== '') break;
    prev = cur;
    sleep(50);
  }
  baseline = new Set([pm, ...childrenOf(pm)]);
  return parseLog(readLogFrom(off))
    .filter((e) => !BORING_STARTUP.some((re) => re.test(e.text)))
    .map((e) => normalizeLog(e.text));
}

// ---------------------------------------------------------------- log handling
function logSize() {
  return fs.existsSync(LOG) ? fs.statSync(LOG).size : 0;
}
function readLogFrom(off) {
  const fd = fs.openSync(LOG, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(size - off);
    fs.readSync(fd, buf, 0, buf.length, off);
    return buf.toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

const PREFIX_RE = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (\S+) \[(\d+)\] (.*)$/;
/** Splits stderr-format log text into entries; tab-indented lines continue the previous one. */
function parseLog(text) {
  const entries = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = PREFIX_RE.exec(line);
    if (m) {
      const tz = m[2] === 'UTC' ? 'Z' : m[2];
      entries.push({ at: Date.parse(`${m[1].replace(' ', 'T')}${tz}`), pid: Number(m[3]), text: m[4] });
    } else if (entries.length > 0) {
      entries[entries.length - 1].text += '\n' + line;
    } else {
      entries.push({ at: NaN, pid: 0, text: line });
    }
  }
  return entries;
}

function normalizePaths(s) {
  return s.split(DATA).join('$DATA').split(WORK).join('$WORK');
}
function normalizeLog(s) {
  return normalizePaths(s)
    .replace(/^(LOG:  connection received: host=\S+ port=)\d+$/, '$1$CLIENTPORT')
    .replace(/^(LOG:  hook_probe: .*) pid=\d+$/, '$1')
    .replace(new RegExp(`\\b${PORT}\\b`, 'g'), '$PORT');
}
function normalizeClient(s) {
  return normalizePaths(s).replace(new RegExp(`\\b${PORT}\\b`, 'g'), '$PORT');
}

const HOOK_RE = /^LOG:  hook_probe: status=(\w+) ssl=(on|off) user=(.*) pid=(\d+)$/;

/**
 * After the client has gone, wait until every backend it caused has exited (an EOF backend
 * lingers for auth_delay) and the log has stopped growing; then return the case's entries.
 */
function collectCase(off, clientExitAt) {
  const deadline = Date.now() + 60_000;
  let lastSize = -1;
  for (;;) {
    const size = logSize();
    const entries = parseLog(readLogFrom(off)).filter((e) => !baseline.has(e.pid));
    const pids = [...new Set(entries.map((e) => e.pid))];
    const busy = pids.some(isAlive) || childrenOf(postmasterPid()).some((p) => !baseline.has(p) && isAlive(p));
    if (!busy && size === lastSize) {
      return { entries, settledMs: Math.max(0, Math.round((nowMs() - clientExitAt) / 10) * 10 - 20) };
    }
    if (Date.now() > deadline) throw new Error('server did not settle after a case');
    lastSize = busy ? -1 : size;
    sleep(busy ? 10 : 20);
  }
}

/** Guards the case separation: every backend seen must start with its own connection line. */
function checkSeparation(c, entries) {
  const firstByPid = new Map();
  for (const e of entries) if (!firstByPid.has(e.pid)) firstByPid.set(e.pid, e.text);
  for (const [pid, text] of firstByPid) {
    if (!text.startsWith('LOG:  connection received:')) {
      throw new Error(`backend ${pid} in ${JSON.stringify(c)} starts with ${JSON.stringify(text)}`);
    }
  }
}

function summarize(entries) {
  const byPid = new Map();
  for (const e of entries) {
    if (!byPid.has(e.pid)) byPid.set(e.pid, []);
    byPid.get(e.pid).push(e);
  }
  const conns = [...byPid.values()];
  const t0 = conns[0]?.[0]?.at ?? 0;
  const hookCalls = [];
  for (const e of entries) {
    const m = HOOK_RE.exec(e.text);
    if (m) hookCalls.push({ status: m[1], ssl: m[2] === 'on' });
  }
  return {
    tcpConnections: entries.filter((e) => e.text.startsWith('LOG:  connection received:')).length,
    hookCalls,
    serverLog: entries.filter((e) => !e.text.startsWith('LOG:  ')).map((e) => normalizeLog(e.text)),
    connections: conns.map((c) => ({
      firstLogAtMs: c[0].at - t0,
      lastLogAtMs: c[c.length - 1].at - t0,
      log: c.map((e) => normalizeLog(e.text)),
    })),
  };
}

// ---------------------------------------------------------------- clients
function clientEnv(password) {
  const env = {
    PATH: PATH_ENV,
    LC_ALL: 'C',
    LANG: 'C',
    HOME: path.join(WORK, 'home'), // empty: no ~/.postgresql/root.crt, no ~/.pgpass
    PGPASSFILE: path.join(WORK, 'home', 'no-such-passfile'),
  };
  if (password === 'right' || password === 'wrong') env.PGPASSWORD = PASSWORDS[password];
  return env;
}

function conninfo(user, sslmode) {
  let s = `host=127.0.0.1 port=${PORT} user=${user} dbname=postgres sslmode=${sslmode}`;
  if (sslmode.startsWith('verify-')) s += ` sslrootcert=${CA}`;
  return s;
}

/** One non-interactive psql run: psql -X -w -c 'select 1' "<conninfo>". */
function runPsql(c) {
  const off = logSize();
  const ci = conninfo(c.user, c.sslmode);
  const t0 = nowMs();
  const r = spawnSync('psql', ['-X', '-w', '-c', 'select 1', ci], {
    env: clientEnv(c.password), encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const t1 = nowMs();
  if (r.error) throw r.error;
  if (r.status === null) throw new Error(`psql was killed (${r.signal}) in ${JSON.stringify(c)}`);
  const { entries, settledMs } = collectCase(off, t1);
  checkSeparation(c, entries);
  return {
    ...c,
    conninfo: normalizeClient(ci),
    exitCode: r.status,
    stdout: normalizeClient(r.stdout),
    stderr: normalizeClient(r.stderr),
    elapsedMs: Math.round(t1 - t0),
    serverBusyAfterExitMs: settledMs,
    ...summarize(entries),
  };
}

/**
 * Interactive psql (no -w, no PGPASSWORD) under a pty: it connects, learns a password is
 * needed, hangs up, prompts, and reconnects with what is typed.
 */
async function runInteractive(c) {
  const off = logSize();
  const ci = conninfo(c.user, c.sslmode);
  // pager=off: on a pty psql would otherwise page even one row and wait for a key.
  const cmd = `psql -X -P pager=off -c 'select 1' '${ci}'`;
  const t0 = nowMs();
  const child = spawn('script', ['-qec', cmd, '/dev/null'], {
    env: { ...clientEnv('none'), TERM: 'dumb' }, stdio: ['pipe', 'pipe', 'pipe'],
  });
  let tty = '';
  let typed = false;
  let promptAt = 0;
  const done = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  child.stdout.on('data', (d) => {
    tty += d.toString('utf8');
    if (!typed && /Password for user [^:]*: ?$/.test(tty)) {
      typed = true;
      promptAt = nowMs();
      // psql flushes pending tty input when it turns echo off, so type only after the prompt.
      setTimeout(() => child.stdin.write(PASSWORDS[c.typed] + '\n'), 100);
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await done;
  clearTimeout(timer);
  if (code === null) throw new Error(`interactive psql did not finish: ${JSON.stringify(tty)}`);
  const t1 = nowMs();
  const { entries, settledMs } = collectCase(off, t1);
  checkSeparation(c, entries);
  return {
    ...c,
    conninfo: normalizeClient(ci),
    exitCode: code,
    tty: normalizeClient(tty.replace(/\r\n/g, '\n')),
    elapsedMs: Math.round(t1 - t0),
    elapsedAfterTypingMs: typed ? Math.round(t1 - promptAt - 100) : null,
    serverBusyAfterExitMs: settledMs,
    ...summarize(entries),
  };
}

function adminSql(sql) {
  return execFileSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', SOCK, '-p', String(PORT),
    '-U', 'postgres', '-d', 'postgres', '-c', sql], { encoding: 'utf8', env: { PATH: PATH_ENV, LC_ALL: 'C' } }).trim();
}

const hbaLine = (hba, method) => HBA_TEMPLATE.replace('{hba}', hba).replace('{method}', method);

// ---------------------------------------------------------------- main
async function main() {
  fs.appendFileSync(path.join(DATA, 'postgresql.conf'), "\ninclude 'oracle.conf'\n");

  // Setup: roles, over the Unix socket with a trust line that the grid never uses.
  configure({ ssl: true, hbaLines: ['local all postgres trust'], authDelayMs: GRID_AUTH_DELAY_MS });
  adminSql(`SET password_encryption = 'scram-sha-256'; CREATE ROLE test LOGIN PASSWORD '${PASSWORDS.right}';
            SET password_encryption = 'md5'; CREATE ROLE md5user LOGIN PASSWORD '${PASSWORDS.right}';
            CREATE ROLE nopw LOGIN;`);
  const roles = adminSql(`SELECT rolname || '|' || coalesce(split_part(rolpassword, '$', 1), '') FROM pg_authid
                          WHERE rolname IN ('test','md5user','nopw') ORDER BY rolname`)
    .split('\n').map((l) => {
      const [name, kind] = l.split('|');
      return { name, secret: kind === '' ? null : kind.startsWith('md5') ? 'md5' : kind };
    });
  if (roles.find((r) => r.name === 'md5user')?.secret !== 'md5') throw new Error('md5user did not get an md5 secret');
  const pgVersion = adminSql('SELECT version()');
  const psqlVersion = execFileSync('psql', ['--version'], { encoding: 'utf8' }).trim();
  const producedBy = 'oracle/run-pg15-grid.sh (pg-authsim): real PostgreSQL 15 server with hook_probe + auth_delay, psql 15 client';
  const hbaNotes = [];

  // --- Grid 1: scram-sha-256 for role test, every hba type x server ssl x password x sslmode.
  const cases = [];
  const SSLMODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];
  for (const hba of ['host', 'hostssl', 'hostnossl']) {
    for (const serverSsl of [true, false]) {
      const line = hbaLine(hba, 'scram-sha-256');
      const startup = configure({ ssl: serverSsl, hbaLines: [line], authDelayMs: GRID_AUTH_DELAY_MS });
      hbaNotes.push({ hba: line, serverSsl, startupLog: startup });
      for (const password of ['right', 'wrong', 'none']) {
        for (const sslmode of SSLMODES) {
          cases.push(runPsql({ group: 'scram', hba, method: 'scram-sha-256', serverSsl, password, sslmode, user: 'test' }));
        }
      }
    }
  }

  // --- Grid 2: other methods, other roles, host line, ssl on, prefer and disable.
  const USERS = [
    { user: 'test', passwords: ['right', 'wrong', 'none'] },
    { user: 'md5user', passwords: ['right', 'wrong', 'none'] },
    { user: 'nopw', passwords: ['wrong', 'none'] },
    { user: 'ghost', passwords: ['wrong', 'none'] }, // no such role
  ];
  for (const method of ['trust', 'password', 'md5', 'scram-sha-256', 'reject']) {
    const line = hbaLine('host', method);
    const startup = configure({ ssl: true, hbaLines: [line], authDelayMs: GRID_AUTH_DELAY_MS });
    hbaNotes.push({ hba: line, serverSsl: true, startupLog: startup });
    for (const { user, passwords } of USERS) {
      if (method === 'scram-sha-256' && user === 'test') continue; // grid 1 has it
      for (const password of passwords) {
        for (const sslmode of ['prefer', 'disable']) {
          cases.push(runPsql({ group: 'methods', hba: 'host', method, serverSsl: true, password, sslmode, user }));
        }
      }
    }
  }

  // --- Interactive psql (prompted password typed into a pty), host scram, ssl on, prefer.
  configure({ ssl: true, hbaLines: [hbaLine('host', 'scram-sha-256')], authDelayMs: GRID_AUTH_DELAY_MS });
  for (const typed of ['wrong', 'right']) {
    cases.push(await runInteractive({ group: 'interactive', hba: 'host', method: 'scram-sha-256', serverSsl: true,
      password: 'typed', typed, sslmode: 'prefer', user: 'test' }));
  }

  fs.mkdirSync(OUT, { recursive: true });
  const grid = {
    producedBy,
    postgres: pgVersion,
    psql: psqlVersion,
    authDelayMs: GRID_AUTH_DELAY_MS,
    hbaTemplate: HBA_TEMPLATE,
    passwords: { ...PASSWORDS, none: 'psql -w with no PGPASSWORD and no passfile', typed: 'interactive psql under a pty, the password typed at the prompt' },
    roles: [...roles, { name: 'ghost', secret: 'role does not exist' }],
    notes: [
      'Each case: psql -X -w -c "select 1" "<conninfo>", LC_ALL=C, empty HOME; group "interactive" runs psql -X -P pager=off -c "select 1" "<conninfo>" (no -w) under script(1) and types the password at the prompt; its tty field is the merged terminal output.',
      'tcpConnections counts "connection received" log lines; hookCalls are hook_probe lines (ClientAuthentication_hook calls) in order.',
      'serverLog holds the non-LOG entries (FATAL, DETAIL, ...) with timestamp and PID removed; a multi-line DETAIL keeps its tab-indented continuation.',
      'connections: log entries grouped per backend PID, in order; firstLogAtMs/lastLogAtMs are relative to the first one (log clock, 1 ms resolution).',
      'elapsedMs is client wall time; serverBusyAfterExitMs is roughly how long backends outlived psql (EOF backends sleep auth_delay), 10 ms resolution.',
      '$PORT = server port, $DATA = data directory, $WORK = temp dir, $CLIENTPORT = client source port.',
    ],
    hbaConfigs: hbaNotes,
    cases,
  };
  fs.writeFileSync(path.join(OUT, 'psql-grid.json'), JSON.stringify(grid, null, 2) + '\n');
  console.log(`psql-grid.json: ${cases.length} cases`);

  if (QUICK) return;

  // --- The seed scenarios, with the 2 s delay they were reported with.
  const seeds = [
    { hba: 'host', sslmode: 'prefer', expect: { tcpConnections: 2, wallTimeS: 4 } },
    { hba: 'host', sslmode: 'allow', expect: { tcpConnections: 2, wallTimeS: 4 } },
    { hba: 'host', sslmode: 'disable', expect: { tcpConnections: 1, wallTimeS: 2 } },
    { hba: 'host', sslmode: 'require', expect: { tcpConnections: 1, wallTimeS: 2 } },
    { hba: 'hostssl', sslmode: 'prefer', expect: { tcpConnections: 2, wallTimeS: 2 } },
  ];
  const scenarios = [];
  for (const s of seeds) {
    configure({ ssl: true, hbaLines: [hbaLine(s.hba, 'scram-sha-256')], authDelayMs: SEED_AUTH_DELAY_MS });
    const r = runPsql({ hba: s.hba, method: 'scram-sha-256', serverSsl: true, password: 'wrong', sslmode: s.sslmode, user: 'test' });
    scenarios.push({ seedExpectation: s.expect, ...r });
  }
  configure({ ssl: true, hbaLines: [hbaLine('host', 'scram-sha-256')], authDelayMs: SEED_AUTH_DELAY_MS });
  const extra = [await runInteractive({ hba: 'host', method: 'scram-sha-256', serverSsl: true, password: 'typed',
    typed: 'wrong', sslmode: 'prefer', user: 'test' })];
  const seedOut = {
    producedBy,
    postgres: pgVersion,
    psql: psqlVersion,
    authDelayMs: SEED_AUTH_DELAY_MS,
    serverSsl: true,
    hbaTemplate: HBA_TEMPLATE,
    notes: [
      'The five scenarios of seed-scenarios.md: role test (SCRAM secret), wrong password via PGPASSWORD, psql -X -w.',
      'elapsedMs is client wall time measured around the psql process.',
      'extra: interactive psql with no password available, the wrong password typed at the prompt (the "three hook calls" case).',
    ],
    scenarios,
    extra,
  };
  fs.writeFileSync(path.join(OUT, 'seed-scenarios.json'), JSON.stringify(seedOut, null, 2) + '\n');
  console.log('seed-scenarios.json: ' + scenarios.map((s) => `${s.hba}/${s.sslmode} ${s.elapsedMs} ms`).join(', '));
}

main().then(
  () => {
    if (postmasterPid() !== null) asPostgres(path.join(PGBIN, 'pg_ctl'), ['-D', DATA, '-m', 'fast', '-w', 'stop']);
  },
  (err) => {
    console.error(err);
    process.exitCode = 1;
  },
);
