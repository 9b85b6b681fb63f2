#!/usr/bin/env node
/** pg-authsim command line. */
import { parseArgs } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StartupError, type StartupMessage } from './server/datadir.js';
import { startFromDataDirectory } from './server/start.js';
import { conformanceMain } from './conformance/runner.js';
import { explainMain } from './explain/cli.js';
import { webMain } from './web/cli.js';
import { WireRecorder } from './capture/recorder.js';
import { writePcap, writeKeylog } from './capture/pcap.js';
import type { PgServer } from './server/server.js';
import { matrixMain } from './matrix/cli.js';
import { MATRIX_CLIENTS } from './matrix/clients.js';
import { CryptoRandom, SeededRandom } from './random.js';
import { ServerLog } from './views/server-log.js';
import { formatLogRecord, renderLogLinePrefix } from './log/index.js';
import { RealClock } from './clock.js';
import { stringToBytes } from './bytes.js';
import { PgError, type PgErrorFields } from './errors.js';
import { checkListenAddresses } from './server/listen-addresses.js';

const PKG = JSON.parse(readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../package.json'), 'utf8')) as { version: string };

const CLIENT_NAMES = Object.keys(MATRIX_CLIENTS).join(', ');

const HELP = `pg-authsim ${PKG.version} — simulate PostgreSQL 15's connection establishment

Usage:
  pg-authsim matrix -D DIR [--client NAME|all] [--sslmode M|unset]... [--password right|wrong|none|prompt]... [--format F]
  pg-authsim serve -D DIR [--port N] [--host ADDR] [--seed S] [--pg-version N] [-c NAME=VALUE]... [--pcap FILE] [--keylog FILE]
  pg-authsim explain [-D DIR] [--client NAME] [--sslmode M] [--password right|wrong|none|prompt] [--format text|mermaid|svg|json] [--compare A B] [--pcap FILE --keylog FILE]
  pg-authsim web [--port N] | web --out DIR
  pg-authsim conformance [--pg-bin DIR] [--versions 15,16,17,18] [--format table|markdown|json] [--filter TEXT]
  pg-authsim --help | --version

Commands:
  matrix  For the data directory DIR and a client, try every user (each role that can log in, plus
          one that does not exist) x sslmode (disable, allow, prefer, require, verify-ca,
          verify-full) x password (right, wrong, none) in-process on virtual time, and print:
          TCP connections, ClientAuthentication_hook calls (status/TLS per call), the time
          auth_delay slept, the outcome and the client's error text. Clients: ${CLIENT_NAMES};
          --client all puts them side by side. "right" is the PASSWORD literal from the roles
          file. "pg-authsim matrix --help" for more (unset sslmode, psql's prompt, gssencmode,
          sslnegotiation, channel_binding, what node-postgres's application does after a rejection).
  explain One connection attempt told as a story: every protocol message, the server's
          hba/hook/auth_delay notes and the client's decisions with their reasons, on virtual
          time. "pg-authsim explain --help" for more.
  web     A local web explorer (http://127.0.0.1:PORT): presets, editable pg_hba.conf, every
          client and option, the diagram, server log and matrix. "pg-authsim web --help".
  conformance
          Run the same scenarios against real PostgreSQL and against the simulator set to the
          same major, with the same real clients (psql with that version's libpq, psycopg),
          and print an agreement table and every difference. --pg-bin DIR uses your own
          PostgreSQL installation (a bin directory with postgres and initdb). Needs root (the
          server runs as the postgres OS user). "pg-authsim conformance --help" for more.
  serve   Run a simulated PostgreSQL server that real clients (psql, node-postgres,
          psycopg, pgjdbc, ...) can connect to. DIR looks like a data directory:
            postgresql.conf  port, listen_addresses, ssl, ssl_cert_file, ssl_key_file,
                             ssl_ca_file, password_encryption, max_connections,
                             authentication_timeout, log_line_prefix, log_connections, ...
            pg_hba.conf      the real file format (host/hostssl/hostnossl, trust, reject,
                             password, md5, scram-sha-256, cert, clientcert=...)
            roles.sql        CREATE ROLE name LOGIN PASSWORD '...' [VALID UNTIL '...'] ...;
                             GRANT group TO role;  (file name: roles_file in postgresql.conf)
          With ssl = on, DIR needs server.crt/server.key (or ssl_cert_file/ssl_key_file,
          key mode 0600 as PostgreSQL requires), or dev_certificates = on / --dev-certs for
          the TEST-ONLY development certificate shipped in certs/. It listens on loopback
          addresses only (--allow-remote to go beyond). The server log (PostgreSQL's stderr
          format, honouring log_line_prefix) goes to standard error. SIGHUP (kill -HUP,
          pg_ctl reload) re-reads postgresql.conf, postgresql.auto.conf and pg_hba.conf.
          Ctrl-C stops it.

Options:
  -D, --pgdata DIR   data directory (default: $PGDATA)
  -p, --port N       override postgresql.conf's port (0 picks a free port)
  -h, --host ADDR    override listen_addresses (loopback addresses only, unless --allow-remote)
      --allow-remote also listen on addresses beyond loopback (logged as a WARNING; anyone who
                     can reach this machine can then connect)
      --dev-certs    with ssl = on and no server certificate in DIR, use the TEST-ONLY
                     development server certificate from certs/ (its key is public); same as
                     -c dev_certificates=on. The development CA is never trusted for client
                     certificates unless ssl_ca_file names it
      --seed S       make backend PIDs, nonces, salts and cancel keys repeatable
      --pg-version N behave like PostgreSQL N (15, 16, 17 or 18); overrides server_version
      --pcap FILE    serve: write every connection as a pcap (TCP/IPv4) when stopped
      --keylog FILE  serve: the TLS secrets in NSS key log format, for Wireshark/tshark
      --bootstrap-superuser NAME
                     the superuser initdb would have created (OID 10; default postgres)
  -c NAME=VALUE      set a parameter after postgresql.conf, like postgres -c (repeatable)
      --help         show this help
      --version      show the version

Examples:
  pg-authsim matrix -D examples/seed
  pg-authsim matrix -D examples/seed --client psql --format markdown --user test
  pg-authsim serve -D examples/seed --port 5433
  PGPASSWORD=wrong psql "host=127.0.0.1 port=5433 user=test dbname=postgres"
`;

async function main(argv: string[]): Promise<number> {
  // conformance has its own flags; hand it the rest of the command line untouched.
  if (argv[0] === 'conformance') return conformanceMain(argv.slice(1));
  if (argv[0] === 'matrix') return matrixMain(argv.slice(1));
  if (argv[0] === 'explain') return explainMain(argv.slice(1));
  if (argv[0] === 'web') return webMain(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      pgdata: { type: 'string', short: 'D' },
      port: { type: 'string', short: 'p' },
      host: { type: 'string', short: 'h' },
      seed: { type: 'string' },
      'pg-version': { type: 'string' },
      'bootstrap-superuser': { type: 'string' },
      set: { type: 'string', short: 'c', multiple: true },
      help: { type: 'boolean' },
      client: { type: 'string' },
      format: { type: 'string' },
      user: { type: 'string', multiple: true },
      sslmode: { type: 'string', multiple: true },
      version: { type: 'boolean' },
      'allow-remote': { type: 'boolean' },
      'dev-certs': { type: 'boolean' },
      pcap: { type: 'string' },
      keylog: { type: 'string' },
    },
  });
  if (values.version) { process.stdout.write(`pg-authsim ${PKG.version}\n`); return 0; }
  const command = positionals[0];
  if (values.help || !command) { process.stdout.write(HELP); return command || values.help ? 0 : 2; }
  if (command !== 'serve') {
    process.stderr.write(`pg-authsim: unknown command "${command}"\nTry "pg-authsim --help".\n`);
    return 2;
  }
  return serve(values);
}

async function serve(values: { pgdata?: string; port?: string; host?: string; seed?: string; 'pg-version'?: string; set?: string[]; 'allow-remote'?: boolean; 'dev-certs'?: boolean; pcap?: string; keylog?: string; 'bootstrap-superuser'?: string }): Promise<number> {
  const dir = values.pgdata ?? process.env.PGDATA;
  if (!dir) {
    process.stderr.write('pg-authsim: no data directory specified\nUse -D DIR or set PGDATA. Try "pg-authsim --help".\n');
    return 2;
  }
  const random = values.seed !== undefined ? new SeededRandom(values.seed) : new CryptoRandom();
  const clock = new RealClock();
  // Log text carries client bytes (src/bytes.ts); PostgreSQL writes them to stderr unchanged.
  const stderr = (t: string) => process.stderr.write(stringToBytes(t));
  let started;
  try {
    const overrides: Record<string, string> = {};
    for (const kv of values.set ?? []) {
      const eq = kv.indexOf('=');
      if (eq <= 0) { process.stderr.write(`pg-authsim: -c needs name=value, got "${kv}"\n`); return 2; }
      overrides[kv.slice(0, eq).trim()] = kv.slice(eq + 1);
    }
    if (values['pg-version'] !== undefined) overrides.server_version = values['pg-version'];
    if (values['bootstrap-superuser'] !== undefined) overrides.bootstrap_superuser = values['bootstrap-superuser'];
    if (values['dev-certs']) overrides.dev_certificates = 'on';
    started = await startFromDataDirectory(dir, { clock, random, overrides });
  } catch (err) {
    if (!(err instanceof StartupError)) throw err;
    const prefix = renderLogLinePrefix('%m [%p] ', { pid: process.pid, sessionStart: clock.now(), now: clock.now(), backendType: 'postmaster', lineNumber: 1, isSessionProcess: false });
    for (const m of err.messages) stderr(formatStartup(prefix, m));
    stderr(formatLogRecord(prefix, err.fatal.fields));
    return 1;
  }
  const { server } = started;
  const port = values.port !== undefined ? Number(values.port) : started.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`pg-authsim: invalid port number: "${values.port}"\n`);
    return 2;
  }
  const hosts = values.host !== undefined ? [values.host] : started.listenAddresses;
  const prefix = renderLogLinePrefix(server.settings.logLinePrefix, { pid: server.postmasterPid, sessionStart: clock.now(), now: clock.now(), backendType: 'postmaster', lineNumber: 1, isSessionProcess: false });
  for (const m of started.startupMessages) stderr(formatStartup(prefix, m));
  try {
    const where = server.gucs.sourceLocation('listen_addresses');
    const origin = values.host !== undefined ? '--host' : where ? `listen_addresses, line ${where.line} of configuration file "${where.file}"` : 'listen_addresses';
    for (const w of await checkListenAddresses(hosts, { allowRemote: values['allow-remote'] === true, origin })) {
      stderr(formatLogRecord(prefix, { severity: 'WARNING', sqlstate: '01000', message: w }));
    }
  } catch (err) {
    if (!(err instanceof PgError)) throw err;
    stderr(formatLogRecord(prefix, err.fields));
    return 1;
  }
  // The live settings: a reload that changes log_line_prefix or log_connections shows in the next line.
  const log = new ServerLog(server.settings, stderr);
  server.on((e) => log.handle(e));
  let bound;
  try {
    bound = await server.listen(port, hosts, { allowRemote: values['allow-remote'] === true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    stderr(formatLogRecord(prefix, { severity: 'LOG', message: `could not bind to ${hosts.join(', ')} port ${port}: ${e.message}` }));
    stderr(formatLogRecord(prefix, { severity: 'FATAL', sqlstate: 'XX000', message: 'could not create any TCP/IP sockets' }));
    return 1;
  }
  for (const b of bound) process.stdout.write(`pg-authsim: listening on ${b.host}:${b.port} (PostgreSQL ${server.settings.serverVersion}, simulated)\n`);
  const capture = values.pcap || values.keylog ? captureConnections(server, bound[0]!.port, values.pcap, values.keylog) : null;
  // pg_ctl reload: SIGHUP re-reads postgresql.conf, postgresql.auto.conf and pg_hba.conf.
  const hup = () => { server.reload('sighup'); };
  process.on('SIGHUP', hup);
  await new Promise<void>((resolve) => {
    const stop = () => { process.off('SIGINT', stop); process.off('SIGTERM', stop); process.off('SIGHUP', hup); resolve(); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
  capture?.();
  return 0;
}

/** serve --pcap/--keylog: capture every connection; the returned function writes the files. */
function captureConnections(server: PgServer, port: number, pcap: string | undefined, keylog: string | undefined): () => void {
  server.captureWire = true;
  const recorder = new WireRecorder({ serverPort: port });
  server.on(recorder.handle);
  return () => {
    const connections = recorder.streams.all();
    if (pcap) writeFileSync(pcap, writePcap(connections));
    if (keylog) writeFileSync(keylog, writeKeylog(connections), { mode: 0o600 });
    process.stdout.write(`pg-authsim: wrote ${connections.length} connection${connections.length === 1 ? '' : 's'}${pcap ? ` to ${pcap}` : ''}${keylog ? `${pcap ? ',' : ''} TLS secrets to ${keylog}` : ''}\n`);
  };
}

function formatStartup(prefix: string, m: StartupMessage | PgErrorFields): string {
  return formatLogRecord(prefix, m as PgErrorFields);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`pg-authsim: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`); process.exitCode = 1; },
);
