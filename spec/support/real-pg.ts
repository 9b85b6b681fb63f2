/**
 * A throwaway real PostgreSQL 15 cluster for differential specs: initdb as
 * the invoking user (as the `postgres` OS user when that is root; see
 * src/conformance/server-account.ts) in a temp dir, listen on 127.0.0.1 at a free port,
 * run a setup script (roles, databases) as the bootstrap superuser over the
 * Unix socket, and read back the server log per case. The oracle's
 * hook_probe extension is built and preloaded when the server headers are
 * there, so ClientAuthentication_hook calls show up in the log.
 *
 * The cluster is always stopped and its directory removed by stop(), and by
 * an exit handler should a run be cut short.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildHookProbe } from '../../src/conformance/probe.js';
import { serverAccount } from '../../src/conformance/server-account.js';
import { CERTS } from './fixtures.js';

export const PGBIN = process.env.PGBIN ?? '/usr/lib/postgresql/15/bin';
/** The bootstrap superuser; specs create their own roles (including `postgres`). */
export const BOOT_USER = 'boot';

export interface RealPgConfig {
  /** pg_hba.conf for TCP clients; a `local all boot trust` line is appended after it for setup. */
  hba: string;
  /** SQL run once as the bootstrap superuser (CREATE ROLE, CREATE DATABASE ...). */
  setupSql: string;
  /**
   * Extra postgresql.conf settings, written verbatim as `name = value`. A
   * log_line_prefix given here must start with '[%p] ', which logSince() strips.
   */
  settings?: Record<string, string>;
  ssl: boolean;
}

export interface LogLine { pid: number; text: string }

const live = new Set<RealPg>();
process.on('exit', () => {
  for (const pg of live) pg.stopNow();
});
// An interrupted run must not leave a server behind either.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const pg of live) pg.stopNow();
    process.kill(process.pid, signal);
  });
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** initdb, pg_ctl, the setup psql: as the account the server runs as. */
const asServer = (cmd: string, args: string[], timeout = 60_000) =>
  serverAccount().run(cmd, args, { env: { PATH: `${PGBIN}:/usr/sbin:/usr/bin:/sbin:/bin`, LC_ALL: 'C' }, timeout });

export class RealPg {
  readonly data: string;
  readonly logFile: string;
  readonly hbaPath: string;
  /** Whether hook_probe is loaded (its lines then report every hook call). */
  hookProbe = false;
  /** The postmaster PID (its CPU time includes every backend it reaped). */
  postmasterPid = 0;
  /** The postmaster and its auxiliary processes; their log lines belong to no case. */
  private baseline = new Set<number>();
  private stopped = false;

  private constructor(readonly work: string, readonly port: number) {
    this.data = path.join(work, 'data');
    this.logFile = path.join(work, 'server.log');
    this.hbaPath = path.join(this.data, 'pg_hba.conf');
  }

  static async start(cfg: RealPgConfig): Promise<RealPg> {
    const work = mkdtempSync(path.join(tmpdir(), 'pg-authsim-real-'));
    const pg = new RealPg(work, await freePort());
    live.add(pg);
    try {
      await pg.init(cfg);
      return pg;
    } catch (e) {
      await pg.stop();
      throw e;
    }
  }

  private async init(cfg: RealPgConfig): Promise<void> {
    const account = serverAccount();
    const sock = path.join(this.work, 'sock');
    const certs = path.join(this.work, 'certs');
    mkdirSync(sock);
    mkdirSync(certs);
    for (const f of ['server.crt', 'server.key', 'ca.crt']) {
      copyFileSync(path.join(CERTS, f), path.join(certs, f));
      chmodSync(path.join(certs, f), f.endsWith('.key') ? 0o600 : 0o644);
    }
    this.hookProbe = await this.buildHookProbe();
    chmodSync(this.work, 0o755);
    account.own(this.work);

    await asServer(path.join(PGBIN, 'initdb'), ['-D', this.data, '-U', BOOT_USER, '-A', 'trust', '-E', 'UTF8', '--locale=C', '-N']);
    const conf: Record<string, string> = {
      listen_addresses: `'127.0.0.1'`,
      port: String(this.port),
      unix_socket_directories: `'${sock}'`,
      log_connections: 'on',
      log_line_prefix: `'[%p] '`,
      lc_messages: `'C'`,
      log_timezone: `'UTC'`,
      timezone: `'Etc/UTC'`,
      autovacuum: 'off',
      fsync: 'off',
      log_checkpoints: 'off',
      password_encryption: `'scram-sha-256'`,
      ssl_cert_file: `'${path.join(certs, 'server.crt')}'`,
      ssl_key_file: `'${path.join(certs, 'server.key')}'`,
      ssl_ca_file: `'${path.join(certs, 'ca.crt')}'`,
      ...(this.hookProbe ? { shared_preload_libraries: `'${path.join(this.work, 'hook_probe', 'hook_probe')}'` } : {}),
      ...cfg.settings,
    };
    const confText = Object.entries(conf).map(([k, v]) => `${k} = ${v}`).join('\n');
    writeFileSync(path.join(this.data, 'postgresql.conf'), `${readFileSync(path.join(this.data, 'postgresql.conf'), 'utf8')}\n${confText}\ninclude 'ssl.conf'\n`);
    this.writeSslConf(cfg.ssl);
    writeFileSync(this.hbaPath, `${cfg.hba.trimEnd()}\nlocal all ${BOOT_USER} trust\n`);
    account.own(this.data);

    await asServer(path.join(PGBIN, 'pg_ctl'), ['-D', this.data, '-l', this.logFile, '-w', '-t', '30', 'start']);
    this.postmasterPid = Number(readFileSync(path.join(this.data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    await this.waitForHelpers();
    const setup = path.join(this.work, 'setup.sql');
    writeFileSync(setup, cfg.setupSql);
    account.own(setup);
    await asServer(path.join(PGBIN, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', sock, '-p', String(this.port), '-U', BOOT_USER, '-d', 'postgres', '-f', setup]);
    await this.settle();
  }

  /** The postmaster starts its helpers (checkpointer, walwriter, ...) after pg_ctl returns: wait until the set is stable. */
  private async waitForHelpers(): Promise<void> {
    let prev = '';
    for (let i = 0; i < 200; i++) {
      const cur = this.children().sort().join(',');
      if (cur !== '' && cur === prev) break;
      prev = cur;
      await new Promise((r) => setTimeout(r, 50));
    }
    this.baseline = new Set([this.postmasterPid, ...this.children()]);
  }

  /** oracle/hook_probe from the conformance kit's build cache (gcc once per source change), copied in; false when pgxs or a compiler is missing. */
  private async buildHookProbe(): Promise<boolean> {
    const dir = path.join(this.work, 'hook_probe');
    try {
      const so = await buildHookProbe(15, { pgConfig: path.join(PGBIN, 'pg_config') });
      mkdirSync(dir);
      copyFileSync(so, path.join(dir, 'hook_probe.so'));
      chmodSync(path.join(dir, 'hook_probe.so'), 0o755);
      return true;
    } catch {
      return false;
    }
  }

  private writeSslConf(on: boolean): void {
    const f = path.join(this.data, 'ssl.conf');
    writeFileSync(f, `ssl = ${on ? 'on' : 'off'}\n`);
    serverAccount().own(f);
  }

  /**
   * Switch ssl on or off with a reload (ssl is PGC_SIGHUP), then wait until a
   * probe SSLRequest gets the matching answer.
   */
  async setSsl(on: boolean, probe: () => Promise<string | null>): Promise<void> {
    this.writeSslConf(on);
    process.kill(this.postmasterPid, 'SIGHUP');
    const want = on ? 'S' : 'N';
    for (let i = 0; i < 100; i++) {
      if ((await probe()) === want) {
        await this.settle();
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`ssl did not become ${on ? 'on' : 'off'} after a reload`);
  }

  /** pg_ctl restart -m fast: sessions get FATAL 57P01, the server comes back on the same port. */
  async restart(): Promise<void> {
    await asServer(path.join(PGBIN, 'pg_ctl'), ['-D', this.data, '-l', this.logFile, '-m', 'fast', '-w', '-t', '30', 'restart']);
    this.postmasterPid = Number(readFileSync(path.join(this.data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    await this.waitForHelpers();
  }

  /**
   * `pg_ctl reload`: SIGHUP the postmaster and return what the postmaster itself logged for it
   * (prefix removed), once "received SIGHUP" is there and the log has been quiet for a moment.
   */
  async reload(): Promise<string[]> {
    const offset = this.logOffset();
    process.kill(this.postmasterPid, 'SIGHUP');
    let last = -1;
    for (let i = 0; i < 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const size = this.logOffset();
      const text = readFileSync(this.logFile).subarray(offset).toString('utf8');
      if (text.includes('received SIGHUP') && size === last) break;
      last = size;
    }
    return this.postmasterLogSince(offset);
  }

  /** The postmaster's own lines since `offset` (continuation lines joined), prefix removed. */
  postmasterLogSince(offset: number): string[] {
    const text = readFileSync(this.logFile).subarray(offset).toString('utf8');
    const out: string[] = [];
    let mine = false;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const m = /^\[(\d+)\] (.*)$/.exec(line);
      if (m) {
        mine = Number(m[1]) === this.postmasterPid;
        if (mine) out.push(m[2]!);
      } else if (mine) {
        out[out.length - 1] += `\n${line}`;
      }
    }
    return out;
  }

  /** Current size of the log: a case reads what comes after it. */
  logOffset(): number {
    return existsSync(this.logFile) ? statSync(this.logFile).size : 0;
  }

  /**
   * Lines written since `offset` by backends (not the postmaster or its helpers), prefix removed;
   * continuation lines follow theirs. `latin1` shows each byte as one char (byte-exact comparisons).
   */
  logSince(offset: number, encoding: 'utf8' | 'latin1' = 'utf8'): LogLine[] {
    const text = readFileSync(this.logFile).subarray(offset).toString(encoding);
    const out: LogLine[] = [];
    let last: LogLine | null = null;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const m = /^\[(\d+)\] (.*)$/.exec(line);
      if (m) {
        last = { pid: Number(m[1]), text: m[2]! };
        if (!this.baseline.has(last.pid)) out.push(last);
      } else if (last) {
        last.text += `\n${line}`;
      }
    }
    return out;
  }

  private children(): number[] {
    const out: number[] = [];
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      let stat: string;
      try { stat = readFileSync(`/proc/${d}/stat`, 'utf8'); } catch { continue; }
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // state, ppid: a zombie has exited already.
      if (Number(rest[1]) === this.postmasterPid && rest[0] !== 'Z') out.push(Number(d));
    }
    return out;
  }

  /** Wait until every backend the last case started has exited (so its log is complete and its slot free). */
  async settle(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.children().some((p) => !this.baseline.has(p))) {
      if (Date.now() > deadline) throw new Error('real PostgreSQL backends did not exit');
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** The cluster's mock authentication nonce (pg_controldata), so mock SCRAM salts can be compared. */
  async mockAuthNonce(): Promise<Buffer> {
    const { stdout } = await asServer(path.join(PGBIN, 'pg_controldata'), ['-D', this.data]);
    const hex = /Mock authentication nonce:\s*([0-9a-f]+)/.exec(stdout)?.[1];
    if (!hex) throw new Error('no mock authentication nonce in pg_controldata output');
    return Buffer.from(hex, 'hex');
  }

  /** Run SQL as the bootstrap superuser and return psql's unaligned output. */
  async sql(text: string): Promise<string> {
    const { stdout } = await asServer(path.join(PGBIN, 'psql'), ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', path.join(this.work, 'sock'), '-p', String(this.port), '-U', BOOT_USER, '-d', 'postgres', '-c', text]);
    await this.settle();
    return stdout;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    live.delete(this);
    if (existsSync(path.join(this.data, 'postmaster.pid'))) {
      await asServer(path.join(PGBIN, 'pg_ctl'), ['-D', this.data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
    }
    rmSync(this.work, { recursive: true, force: true });
  }

  /** Synchronous stop for the exit handler. */
  stopNow(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (existsSync(path.join(this.data, 'postmaster.pid'))) {
      try {
        serverAccount().runSync(path.join(PGBIN, 'pg_ctl'), ['-D', this.data, '-m', 'immediate', '-w', 'stop']);
      } catch { /* best effort */ }
    }
    rmSync(this.work, { recursive: true, force: true });
  }
}
