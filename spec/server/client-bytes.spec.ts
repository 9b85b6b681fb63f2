/**
 * Client bytes beyond the wire tables (edge-bytes-cases.ts): what a hook's
 * Port shows, the log as bytes (trace and `serve`'s stderr), and a roles file
 * that is not UTF-8.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { TestCluster } from '../../src/testing/index.js';
import type { Port } from '../../src/port.js';
import { loadDataDirectory, StartupError } from '../../src/server/datadir.js';
import { SeededRandom } from '../../src/random.js';
import { ROOT } from '../support/fixtures.js';
import { tempDir } from '../support/temp.js';
import { startup, terminate } from '../support/wire-script.js';

const bytes = (s: string) => Buffer.from(s, 'latin1');

describe('client bytes', () => {
  describe('the hook\'s Port', () => {
    let cluster: TestCluster;
    const ports: Port[] = [];
    beforeEach(async () => {
      ports.length = 0;
      cluster = await TestCluster.start({
        hba: 'host all all 127.0.0.1/32 trust',
        roles: 'CREATE ROLE "u\uFFFD" LOGIN;',
        extensions: [{ name: 'port_probe', _PG_init: (ctx) => { ctx.hooks.ClientAuthentication_hook = (port) => { ports.push(port); }; } }],
      });
    });
    afterEach(() => cluster.close());

    async function connect(packet: Buffer): Promise<void> {
      const s = cluster.socket();
      s.on('data', () => {});
      // Terminate right behind: a session that logs in ends at once, a failed one never reads it.
      s.write(Buffer.concat([packet, terminate()]));
      await cluster.idle();
      s.destroy();
    }

    it('keeps names that differ only in bytes that are not UTF-8 apart, and gives their bytes in port.raw', async () => {
      for (const user of [bytes('u\xff'), bytes('u\xfe'), Buffer.from('u\uFFFD')]) {
        await connect(startup([['user', user], ['database', 'postgres']]));
      }
      expect(ports.map((p) => p.raw.user_name.toString('hex'))).to.deep.equal(['75ff', '75fe', '75efbfbd']);
      expect(ports.map((p) => p.user_name)).to.deep.equal(['u\udcff', 'u\udcfe', 'u\uFFFD']);
      // Only the real U+FFFD is the role's name; the other two fail after the hook.
      expect(cluster.trace.errorsSent().map((e) => e.message)).to.deep.equal(['role "u\udcff" does not exist', 'role "u\udcfe" does not exist']);
    });

    it('gives the GUCs, options and application_name as sent, next to their display forms', async () => {
      await connect(startup([['user', 'u\uFFFD'], ['database', bytes('db\xff')], ['options', bytes('-c a.b=\xff')], ['application_name', bytes('a\xffb')], [bytes('x.\xff'), bytes('\xfe')]]));
      const [p] = ports;
      expect(p!.application_name).to.equal('a?b');
      expect(p!.raw.application_name?.toString('latin1')).to.equal('a\xffb');
      expect(p!.raw.database_name.toString('latin1')).to.equal('db\xff');
      expect(p!.raw.cmdline_options?.toString('latin1')).to.equal('-c a.b=\xff');
      expect(p!.raw.guc_options.map(([n, v]) => [n.toString('latin1'), v.toString('latin1')])).to.deep.equal([['application_name', 'a\xffb'], ['x.\xff', '\xfe']]);
      expect(p!.guc_options).to.deep.equal([['application_name', 'a\udcffb'], ['x.\udcff', '\udcfe']]);
      expect(Object.isFrozen(p!.raw)).to.equal(true);
    });

    it('logs the bytes: trace.logBytes() holds 0xFF where log() holds U+DCFF', async () => {
      await connect(startup([['user', bytes('u\xff')], ['database', 'postgres']]));
      expect(cluster.trace.log()).to.include('FATAL:  role "u\udcff" does not exist');
      const logged = cluster.trace.logBytes();
      expect(logged.includes(bytes('FATAL:  role "u\xff" does not exist\n'))).to.equal(true);
      expect(logged.includes(Buffer.from('\uFFFD'))).to.equal(false);
    });
  });

  it('`serve` writes the client\'s bytes to stderr unchanged', async function () {
    this.timeout(30_000);
    const dir = tempDir('pg-authsim-bytes-');
    writeFileSync(path.join(dir, 'postgresql.conf'), "listen_addresses = '127.0.0.1'\nlog_connections = on\nlog_line_prefix = '%u@%d '\n");
    writeFileSync(path.join(dir, 'pg_hba.conf'), 'host all all 127.0.0.1/32 trust\n');
    writeFileSync(path.join(dir, 'roles.sql'), 'CREATE ROLE test LOGIN;\n');
    const child = spawn(process.execPath, [path.join(ROOT, 'dist/src/cli.js'), 'serve', '-D', dir, '--port', '0', '--seed', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const stderr: Buffer[] = [];
    child.stderr.on('data', (d: Buffer) => stderr.push(d));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening on [^\s]+:(\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child.once('exit', () => reject(new Error(`serve exited: ${Buffer.concat(stderr).toString()}`)));
      });
      const s = net.connect({ host: '127.0.0.1', port });
      s.on('data', () => {});
      s.write(startup([['user', bytes('u\xff')], ['database', bytes('db\xfe')]]));
      await new Promise<void>((resolve) => s.once('close', () => resolve()));
      // The backend's last log line may trail the socket's close by a moment.
      const want = bytes('u\xff@db\xfe FATAL:  role "u\xff" does not exist\n');
      for (let i = 0; i < 100 && !Buffer.concat(stderr).includes(want); i++) await new Promise((r) => setTimeout(r, 20));
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    const log = Buffer.concat(stderr);
    expect(log.includes(bytes('u\xff@db\xfe LOG:  connection authorized: user=u\xff database=db\xfe\n')), log.toString('latin1')).to.equal(true);
    expect(log.includes(bytes('u\xff@db\xfe FATAL:  role "u\xff" does not exist\n')), log.toString('latin1')).to.equal(true);
    expect(log.includes(Buffer.from('\uFFFD')), 'no U+FFFD anywhere').to.equal(false);
  });

  it('refuses a roles file that is not UTF-8, as a UTF8 database refuses the bytes (22021)', () => {
    const dir = tempDir('pg-authsim-bytes-');
    writeFileSync(path.join(dir, 'postgresql.conf'), '');
    writeFileSync(path.join(dir, 'pg_hba.conf'), 'host all all 127.0.0.1/32 trust\n');
    writeFileSync(path.join(dir, 'roles.sql'), Buffer.concat([Buffer.from('CREATE ROLE test LOGIN;\nCREATE ROLE "u'), Buffer.from([0xff]), Buffer.from('" LOGIN;\n')]));
    let caught: unknown;
    try { loadDataDirectory(dir, new SeededRandom(1)); } catch (e) { caught = e; }
    expect(caught).to.be.instanceOf(StartupError);
    const fatal = (caught as StartupError).fatal;
    expect([fatal.sqlstate, fatal.message, fatal.context]).to.deep.equal([
      '22021', 'invalid byte sequence for encoding "UTF8": 0xff', `line 2 of roles file "${path.join(dir, 'roles.sql')}"`,
    ]);
  });
});
