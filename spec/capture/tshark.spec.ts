/**
 * The pcap and key log of in-process runs, read by Debian's tshark (an independent dissector):
 * every PostgreSQL message of every connection decodes, inside TLS too, with the message
 * types in the order the server's wire events carried them; handshakes, FIN and RST look like
 * a loopback capture, checksums verify.
 *
 * tshark 4.0's pgsql dissector predates direct SSL (17+), so for that case a one-line Lua
 * script hands TLS application data on port 5432 to the same pgsql dissector.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { runScenario, type ExplainRun } from '../../src/explain/run.js';
import { buildStory } from '../../src/explain/story.js';
import { readServerFiles, SEED_DIR, type Scenario } from '../../src/explain/scenario.js';
import { writePcap, writeKeylog } from '../../src/capture/pcap.js';
import { ByteStreams } from '../../src/capture/streams.js';
import { tempDir } from '../support/temp.js';

const TSHARK = process.env.TSHARK ?? 'tshark';
const dir = tempDir('pg-authsim-tshark-');
const seed = readServerFiles(SEED_DIR);

/** tshark's pgsql.type for each of our message names (EncryptionResponse has none: it is one unframed byte). */
const TSHARK_TYPE: Record<string, string | null> = {
  SSLRequest: 'SSL request', GSSENCRequest: 'GSS encrypt request', EncryptionResponse: null, DirectSSL: null,
  StartupMessage: 'Startup message', PasswordMessage: 'Password message', SASLInitialResponse: 'SASLInitialResponse message', SASLResponse: 'SASLResponse message',
  AuthenticationOk: 'Authentication request', AuthenticationCleartextPassword: 'Authentication request', AuthenticationMD5Password: 'Authentication request',
  AuthenticationSASL: 'Authentication request', AuthenticationSASLContinue: 'Authentication request', AuthenticationSASLFinal: 'Authentication request',
  ErrorResponse: 'Error', NoticeResponse: 'Notice', ParameterStatus: 'Parameter status', BackendKeyData: 'Backend key data', ReadyForQuery: 'Ready for query',
  Query: 'Simple query', RowDescription: 'Row description', DataRow: 'Data row', CommandComplete: 'Command completion', Terminate: 'Termination',
};

function tshark(args: string[]): string {
  return execFileSync(TSHARK, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

async function capture(name: string, s: Scenario): Promise<{ run: ExplainRun; pcap: string; keys: string }> {
  const r = await runScenario(s);
  if (!r.ok) throw new Error(r.fatal.message);
  const pcap = path.join(dir, `${name}.pcap`);
  const keys = path.join(dir, `${name}.keys`);
  writeFileSync(pcap, writePcap(r.run.connections));
  writeFileSync(keys, writeKeylog(r.run.connections));
  return { run: r.run, pcap, keys };
}

/** Per TCP stream, the pgsql message types tshark decoded, in order. */
function tsharkMessages(pcap: string, keys: string, extra: string[] = []): string[][] {
  const out = tshark(['-r', pcap, '-o', `tls.keylog_file:${keys}`, ...extra, '-Y', 'pgsql', '-T', 'fields', '-E', 'occurrence=a', '-e', 'tcp.stream', '-e', 'pgsql.type']);
  const streams: string[][] = [];
  for (const line of out.split('\n').filter(Boolean)) {
    const [stream, types] = line.split('\t');
    (streams[Number(stream)] ??= []).push(...(types ?? '').split(',').filter(Boolean));
  }
  return streams;
}

/** Per connection, the message types our decoder found in the server's wire events, as tshark names them. */
function traceMessages(run: ExplainRun): string[][] {
  const story = buildStory(run);
  return run.connections.map((c) => story.steps.flatMap((s) => {
    if (s.kind !== 'message' || s.connection !== c.connection) return [];
    const t = TSHARK_TYPE[s.name];
    if (t === undefined) throw new Error(`no tshark name for ${s.name}`);
    return t === null ? [] : [t];
  }));
}

/** The server's own account, independent of the bytes: the authentication requests it sent, per connection. */
function authRequestsFromEvents(run: ExplainRun): string[][] {
  return run.connections.map((c) => run.timeline.flatMap((t) => (t.kind === 'server' && t.event.connection === c.connection && t.event.type === 'auth-request' ? [t.event.request] : [])));
}

describe('pcap + key log through tshark', function () {
  this.timeout(60000);

  it('plaintext (sslmode=disable): every message of the connection, in the trace\'s order', async () => {
    const { run, pcap, keys } = await capture('plain', { files: seed, origin: 'seed', client: 'psql', sslmode: 'disable', password: 'wrong' });
    const seen = tsharkMessages(pcap, keys);
    expect(seen).to.deep.equal(traceMessages(run));
    expect(seen[0]).to.deep.equal(['Startup message', 'Authentication request', 'SASLInitialResponse message', 'Authentication request', 'SASLResponse message', 'Error']);
  });

  it('the seed scenario (prefer, wrong password): both connections, inside and outside TLS', async () => {
    const { run, pcap, keys } = await capture('seed', { files: seed, origin: 'seed', client: 'psql', sslmode: 'prefer', password: 'wrong' });
    expect(run.connections).to.have.length(2);
    const seen = tsharkMessages(pcap, keys);
    expect(seen).to.deep.equal(traceMessages(run));
    expect(seen[0]).to.deep.equal(['SSL request', 'Startup message', 'Authentication request', 'SASLInitialResponse message', 'Authentication request', 'SASLResponse message', 'Error']);
    expect(seen[1]).to.deep.equal(['Startup message', 'Authentication request', 'SASLInitialResponse message', 'Authentication request', 'SASLResponse message', 'Error']);
    // The messages tshark found inside TLS really were encrypted on the wire: without the keys it sees none of them.
    expect(tsharkMessages(pcap, path.join(dir, 'no-such-keys'))[0]).to.deep.equal(['SSL request']);
    // Our decoding agrees with what the server says it sent.
    const story = buildStory(run);
    const auth = run.connections.map((c) => story.steps.flatMap((s) => (s.kind === 'message' && s.connection === c.connection && s.name.startsWith('Authentication') ? [s.name] : [])));
    expect(auth).to.deep.equal(authRequestsFromEvents(run));
    // The error text inside TLS, as tshark reads it.
    const errors = tshark(['-r', pcap, '-o', `tls.keylog_file:${keys}`, '-Y', 'pgsql.type == "Error"', '-T', 'fields', '-e', 'tcp.stream', '-e', 'pgsql.code', '-e', 'pgsql.message']);
    expect(errors.trim().split('\n')).to.deep.equal([
      '0\t28P01\tpassword authentication failed for user "test"',
      '1\t28P01\tpassword authentication failed for user "test"',
    ]);
  });

  it('direct SSL (PostgreSQL 17, sslnegotiation=direct): the session inside TLS without an SSLRequest', async () => {
    const { run, pcap, keys } = await capture('direct', {
      files: seed, origin: 'seed', client: 'psql-libpq17', pgVersion: '17', sslmode: 'require', password: 'right', options: { sslnegotiation: 'direct' },
    });
    const lua = path.join(dir, 'pgsql-over-tls.lua');
    writeFileSync(lua, 'DissectorTable.get("tls.port"):add(5432, Dissector.get("pgsql"))\n');
    const seen = tsharkMessages(pcap, keys, ['-X', `lua_script:${lua}`, '-d', 'tcp.port==5432,tls']);
    expect(seen).to.deep.equal(traceMessages(run));
    expect(seen[0]![0]).to.equal('Startup message');
    expect(seen[0]).to.include.members(['Backend key data', 'Ready for query', 'Simple query', 'Data row', 'Termination']);
    expect(seen[0]).to.not.include('SSL request');
  });

  it('frames: three-way handshake, FIN from both sides, valid checksums, no expert warnings', async () => {
    const { pcap, keys } = await capture('seed2', { files: seed, origin: 'seed', client: 'psql', sslmode: 'prefer', password: 'wrong' });
    const flags = tshark(['-r', pcap, '-T', 'fields', '-e', 'tcp.stream', '-e', 'tcp.flags.str']).trim().split('\n').map((l) => l.split('\t'));
    for (const stream of ['0', '1']) {
      const f = flags.filter(([s]) => s === stream).map(([, x]) => x!.replace(/·/g, '').trim());
      expect(f.slice(0, 3)).to.deep.equal(['S', 'AS', 'A']);
      expect(f.filter((x) => x.includes('F'))).to.have.length(2);
    }
    const problems = tshark(['-r', pcap, '-o', `tls.keylog_file:${keys}`, '-o', 'tcp.check_checksum:TRUE', '-Y', '_ws.malformed || _ws.expert.severity >= "warning" || tcp.checksum.status == "Bad"']);
    expect(problems).to.equal('');
  });

  it('an RST is written as it happened and ends the stream', () => {
    const streams = new ByteStreams();
    streams.open({ connection: 1, clientHost: '127.0.0.1', clientPort: 40000, serverHost: '127.0.0.1', serverPort: 5432, openedAt: 0 });
    streams.chunk(1, { time: 1, from: 'client', layer: 'tcp', data: Buffer.from([0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f]) });
    streams.close(1, { time: 2, by: 'client', kind: 'rst' });
    streams.close(1, { time: 3, by: 'server', kind: 'fin' });
    const pcap = path.join(dir, 'rst.pcap');
    writeFileSync(pcap, writePcap(streams.all()));
    const rows = tshark(['-r', pcap, '-T', 'fields', '-e', 'tcp.srcport', '-e', 'tcp.flags.str', '-e', 'pgsql.type']).trim().split('\n');
    expect(rows).to.have.length(5);
    expect(rows[3]).to.match(/^40000\t.*AP.*\tSSL request$/);
    expect(rows[4]).to.match(/^40000\t.*R.*$/);
  });
});

describe('serve --pcap --keylog with the real psql', function () {
  this.timeout(60000);

  it('captures real TCP connections, TLS included, that tshark decodes', async () => {
    const { spawn } = await import('node:child_process');
    const cli = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../src/cli.js');
    const pcap = path.join(dir, 'serve.pcap');
    const keys = path.join(dir, 'serve.keys');
    const child = spawn(process.execPath, [cli, 'serve', '-D', SEED_DIR, '--port', '0', '-c', 'auth_delay.milliseconds=0', '--pcap', pcap, '--keylog', keys], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`serve did not start: ${stdout}`)), 15000);
        child.stdout.on('data', () => {
          const m = /listening on 127\.0\.0\.1:(\d+)/.exec(stdout);
          if (m) { clearTimeout(t); resolve(Number(m[1])); }
        });
      });
      // A wrong password under prefer: TLS, then the plaintext retry.
      try {
        execFileSync('/usr/lib/postgresql/15/bin/psql', [`host=127.0.0.1 port=${port} user=test dbname=postgres sslmode=prefer`, '-w', '-c', 'select 1'], { env: { ...process.env, PGPASSWORD: 'wrong' }, stdio: 'ignore' });
      } catch { /* psql exits 2 */ }
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGINT');
      await exited;
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect(stdout).to.match(/wrote 2 connections to /);
    const out = tshark(['-r', pcap, '-o', `tls.keylog_file:${keys}`, '-d', `tcp.port==${/listening on 127\.0\.0\.1:(\d+)/.exec(stdout)![1]},pgsql`, '-Y', 'pgsql.type == "Error"', '-T', 'fields', '-e', 'tcp.stream', '-e', 'tls.record.content_type', '-e', 'pgsql.message']);
    const rows = out.trim().split('\n').map((l) => l.split('\t'));
    // The first error came inside TLS (a TLS record carried it), the second in plaintext.
    expect(rows.map((r) => [r[0], r[1] !== '', r[2]])).to.deep.equal([
      ['0', true, 'password authentication failed for user "test"'],
      ['1', false, 'password authentication failed for user "test"'],
    ]);
  });
});
