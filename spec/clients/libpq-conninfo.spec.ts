/**
 * Connection options as libpq parses and checks them: keyword/value strings, URIs,
 * defaults from the environment, and the checks before any socket opens. Every error
 * case is also given to the real psql 15 on this machine, which must print the same
 * text after "psql: error: ".
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  parseConninfo, conninfoArrayParse, resolveConnOptions, libpqOptions, isConnectionString, type LibpqVersion,
} from '../../src/clients/conninfo.js';
import { passwordFromFile } from '../../src/clients/pgpass.js';
import { PSQL } from '../support/psql.js';
import { tempDir } from '../support/temp.js';

const home = tempDir('pg-authsim-conninfo-');

/** What real psql 15 prints for a conninfo it rejects before connecting. */
function realPsqlError(conninfo: string): string {
  const r = spawnSync(PSQL, ['-X', '-w', '-c', 'select 1', conninfo], {
    env: { PATH: '/usr/bin:/bin', LC_ALL: 'C', HOME: home, PGPASSFILE: path.join(home, 'none') }, encoding: 'utf8',
  });
  return r.stderr;
}

describe('libpq conninfo: keyword/value strings and URIs', () => {
  const values: Array<[string, string, Record<string, string>]> = [
    ['plain pairs', 'host=h port=5433 user=u dbname=d', { host: 'h', port: '5433', user: 'u', dbname: 'd' }],
    ['blanks around =', 'host = h   port=  1', { host: 'h', port: '1' }],
    ['quoted value with blanks', "options='-c a=b' application_name='my app'", { options: '-c a=b', application_name: 'my app' }],
    ['backslash escapes in quotes', "password='it\\'s \\\\ x'", { password: "it's \\ x" }],
    ['backslash escapes unquoted', 'password=a\\ b', { password: 'a b' }],
    // Blanks after '=' are skipped, so the next pair becomes the value.
    ['blank after =', 'sslmode= host=h', { sslmode: 'host=h' }],
    ['empty quoted value', "sslmode='' host=h", { sslmode: '', host: 'h' }],
    ['empty value at the end', 'host=', { host: '' }],
    ['later keyword wins', 'host=a host=b', { host: 'b' }],
    ['requiressl=1 is sslmode=require', 'requiressl=1', { sslmode: 'require' }],
    ['requiressl=0 is sslmode=prefer', 'requiressl=0', { sslmode: 'prefer' }],
    ['URI with everything', 'postgresql://u:p%40ss@h:5433/db?sslmode=require&application_name=a%20b',
      { user: 'u', password: 'p@ss', host: 'h', port: '5433', dbname: 'db', sslmode: 'require', application_name: 'a b' }],
    ['short designator', 'postgres://h/db', { host: 'h', dbname: 'db' }],
    ['URI host list with ports', 'postgresql://a:1,b:2,c/db', { host: 'a,b,c', port: '1,2,', dbname: 'db' }],
    ['URI IPv6 host', 'postgresql://[::1]:5433/db', { host: '::1', port: '5433', dbname: 'db' }],
    ['URI without dbname', 'postgresql://h:1', { host: 'h', port: '1' }],
    ['URI empty dbname is not set', 'postgresql://h/', { host: 'h' }],
    ['URI query only', 'postgresql://?host=/tmp&port=1', { host: '/tmp', port: '1' }],
    ['JDBC ssl=true', 'postgresql://h/db?ssl=true', { host: 'h', dbname: 'db', sslmode: 'require' }],
    ['URI user without password', 'postgresql://u@h', { user: 'u', host: 'h' }],
  ];
  for (const [name, input, expected] of values) {
    it(name, () => {
      const r = parseConninfo(input);
      expect(r.ok, JSON.stringify(r)).to.equal(true);
      if (r.ok) expect(Object.fromEntries(r.values)).to.deep.equal(expected);
    });
  }

  it('recognises connection strings the way psql expands its dbname argument', () => {
    expect([isConnectionString('mydb'), isConnectionString('host=x'), isConnectionString('postgresql://h'), isConnectionString('postgres://h')])
      .to.deep.equal([false, true, true, true]);
  });
});

describe('libpq option errors, checked against real psql 15', function () {
  this.timeout(20000);
  const errors: Array<[string, string]> = [
    ['sslmode=x', 'invalid sslmode value: "x"'],
    ['sslmode=', 'invalid sslmode value: ""'],
    ['sslmode= host=h', 'invalid sslmode value: "host=h"'],
    ["host = 127.0.0.1 port=1 sslmode ='dis able'", 'invalid sslmode value: "dis able"'],
    ['requiressl=1 sslmode=x port=1 host=127.0.0.1', 'invalid sslmode value: "x"'],
    ['channel_binding=y', 'invalid channel_binding value: "y"'],
    ['gssencmode=q', 'invalid gssencmode value: "q"'],
    ['target_session_attrs=zz', 'invalid target_session_attrs value: "zz"'],
    ['ssl_min_protocol_version=TLSv1.9', 'invalid ssl_min_protocol_version value: "TLSv1.9"'],
    ['ssl_min_protocol_version=TLSv1.3 ssl_max_protocol_version=TLSv1.2', 'invalid SSL protocol version range'],
    ['require_auth=md5', 'invalid connection option "require_auth"'],
    ['sslnegotiation=direct', 'invalid connection option "sslnegotiation"'],
    ['load_balance_hosts=random', 'invalid connection option "load_balance_hosts"'],
    ['foo bar=1', 'missing "=" after "foo" in connection info string'],
    ["host='abc", 'unterminated quoted string in connection info string'],
    ['nosuchoption=1', 'invalid connection option "nosuchoption"'],
    ['host=a,b port=1,2,3', 'could not match 3 port numbers to 2 hosts'],
    ['host=127.0.0.1 port=5x,1', 'could not match 2 port numbers to 1 hosts'],
    ['hostaddr=1.2.3.4,5.6.7.8 host=a', 'could not match 1 host names to 2 hostaddr values'],
    ['host=127.0.0.1 port=1 service=foo', 'definition of service "foo" not found'],
    ['postgresql://u@h:5/db?sslmode=bad', 'invalid sslmode value: "bad"'],
    ['postgresql://h:1/db?ssl=true&sslmode=x', 'invalid sslmode value: "x"'],
    ['postgresql://[::1', 'end of string reached when looking for matching "]" in IPv6 host address in URI: "postgresql://[::1"'],
    ['postgresql://[]:1/', 'IPv6 host address may not be empty in URI: "postgresql://[]:1/"'],
    ['postgresql://[::1]x/', 'unexpected character "x" at position 19 in URI (expected ":" or "/"): "postgresql://[::1]x/"'],
    ['postgresql://h/db?x', 'missing key/value separator "=" in URI query parameter: "x"'],
    ['postgresql://h/db?a=b=c', 'extra key/value separator "=" in URI query parameter: "a"'],
    ['postgresql://h/db?zz=1', 'invalid URI query parameter: "zz"'],
    ['postgresql://127.0.0.1:1/db?application_name=a%20b&zz', 'missing key/value separator "=" in URI query parameter: "zz"'],
    ['postgresql://%zz@h/', 'invalid percent-encoded token: "%zz"'],
    ['postgresql://h/db?sslmode=%00', 'forbidden value %00 in percent-encoded value: "%00"'],
  ];
  for (const [conninfo, message] of errors) {
    it(`${JSON.stringify(conninfo)} → ${message}`, () => {
      const r = libpqOptions(conninfo, { version: 15, environ: {}, osUser: 'root', homeDir: null });
      expect(r.ok ? '(accepted)' : r.error).to.equal(message);
      expect(realPsqlError(conninfo), 'real psql 15').to.equal(`psql: error: ${message}\n`);
    });
  }
});

describe('libpq option defaults and checks', () => {
  const resolve = (conninfo: string, version: LibpqVersion = 15, environ: Record<string, string> = {}) =>
    libpqOptions(conninfo, { version, environ, osUser: 'alice', homeDir: null });

  it('compiled-in defaults: prefer, prefer, prefer, any; user from the OS; dbname from the user; the default socket directory', () => {
    const r = resolve('');
    expect(r.ok).to.equal(true);
    if (!r.ok) return;
    const o = r.options;
    expect([o.sslmode, o.gssencmode, o.channelBinding, o.targetSessionAttrs]).to.deep.equal(['prefer', 'prefer', 'prefer', 'any']);
    expect([o.user, o.dbname]).to.deep.equal(['alice', 'alice']);
    expect(o.hosts).to.deep.equal([{ host: '/var/run/postgresql', hostaddr: null, port: '5432', type: 'unix', password: null }]);
  });

  it('environment variables fill what the string left out, and never override it', () => {
    const r = resolve('sslmode=disable', 15, { PGSSLMODE: 'require', PGUSER: 'bob', PGDATABASE: 'db1', PGPASSWORD: 'pw', PGCHANNELBINDING: 'require' });
    expect(r.ok).to.equal(true);
    if (!r.ok) return;
    expect([r.options.sslmode, r.options.user, r.options.dbname, r.options.password, r.options.channelBinding])
      .to.deep.equal(['disable', 'bob', 'db1', 'pw', 'require']);
  });

  const sslmodeFromEnv: Array<[Record<string, string>, string]> = [
    [{ PGREQUIRESSL: '1' }, 'require'],
    [{ PGREQUIRESSL: '0' }, 'prefer'],
    [{ PGREQUIRESSL: '1', PGSSLMODE: 'allow' }, 'allow'],
  ];
  for (const [environ, expected] of sslmodeFromEnv) {
    it(`sslmode from ${JSON.stringify(environ)} is ${expected}`, () => {
      const r = resolve('', 15, environ);
      expect(r.ok && r.options.sslmode).to.equal(expected);
    });
  }

  it('hosts: one port for all, a name, an address, a socket directory, and hostaddr shown instead of host', () => {
    const r = resolve('host=db.example,10.0.0.1,/tmp port=6000');
    expect(r.ok && r.options.hosts.map((h) => [h.host, h.type, h.port])).to.deep.equal([
      ['db.example', 'name', '6000'], ['10.0.0.1', 'name', '6000'], ['/tmp', 'unix', '6000'],
    ]);
    const a = resolve('host=db.example hostaddr=10.0.0.1');
    expect(a.ok && a.options.hosts.map((h) => [h.host, h.hostaddr, h.type])).to.deep.equal([['db.example', '10.0.0.1', 'address']]);
  });

  it('libpq 16: require_auth, sslcertmode, load_balance_hosts and sslrootcert=system', () => {
    const ok = resolve('require_auth=!password,!md5 sslcertmode=require load_balance_hosts=random', 16);
    expect(ok.ok).to.equal(true);
    if (ok.ok) {
      expect(ok.options.requireAuth!.authRequired).to.equal(false);
      expect([...ok.options.requireAuth!.allowed].sort((x, y) => x - y)).to.deep.equal([7, 8, 9, 10, 11, 12]);
      expect([ok.options.sslcertmode, ok.options.loadBalanceHosts]).to.deep.equal(['require', 'random']);
    }
    const system = resolve('sslrootcert=system', 16);
    expect(system.ok && system.options.sslmode).to.equal('verify-full');
    // libpq 15 takes "system" for a file name.
    const fifteen = resolve('sslrootcert=system', 15);
    expect(fifteen.ok && fifteen.options.sslmode).to.equal('prefer');
  });

  const v16errors: Array<[string, string]> = [
    ['require_auth=md5,!password', 'negative require_auth method "!password" cannot be mixed with non-negative methods'],
    ['require_auth=!md5,password', 'require_auth method "password" cannot be mixed with negative methods'],
    ['require_auth=md5,md5', 'require_auth method "md5" is specified more than once'],
    ['require_auth=none,none', 'require_auth method "none" is specified more than once'],
    ['require_auth=!none,!none', 'require_auth method "!none" is specified more than once'],
    ['require_auth=!md5,!md5', 'require_auth method "!md5" is specified more than once'],
    ['require_auth=kerberos', 'invalid require_auth value: "kerberos"'],
    ['sslcertmode=always', 'invalid sslcertmode value: "always"'],
    ['load_balance_hosts=yes', 'invalid load_balance_hosts value: "yes"'],
    ['sslrootcert=system sslmode=verify-ca', 'weak sslmode "verify-ca" may not be used with sslrootcert=system (use "verify-full")'],
  ];
  for (const [conninfo, message] of v16errors) {
    // Texts as the real libpq 16.14 prints them (checked with psql 15 over that library).
    it(`libpq 16: ${conninfo} → ${message}`, () => {
      const r = resolve(conninfo, 16);
      expect(r.ok ? '(accepted)' : r.error).to.equal(message);
    });
  }

  it('libpq 17: sslnegotiation=direct needs sslmode require or stronger', () => {
    const r = resolve('sslnegotiation=direct', 17);
    expect(r.ok ? '(accepted)' : r.error)
      .to.equal('weak sslmode "prefer" may not be used with sslnegotiation=direct (use "require", "verify-ca", or "verify-full")');
    const ok = resolve('sslnegotiation=direct sslmode=require', 17);
    expect(ok.ok && ok.options.sslnegotiation).to.equal('direct');
  });

  it('client_encoding=auto follows the locale', () => {
    const c = resolve('client_encoding=auto', 15, { LC_ALL: 'C' });
    const u = resolve('client_encoding=auto', 15, { LANG: 'en_US.UTF-8' });
    expect([c.ok && c.options.clientEncoding, u.ok && u.options.clientEncoding]).to.deep.equal(['SQL_ASCII', 'UTF8']);
  });
});

describe("psql's keyword arrays (PQconnectdbParams with expand_dbname)", () => {
  it('a conninfo in dbname is expanded where dbname stands; later keywords override it, empty values are skipped', () => {
    const r = conninfoArrayParse([
      ['host', null], ['user', ''], ['password', 'pw'], ['dbname', 'host=h user=u dbname=d password=inner'], ['fallback_application_name', 'psql'],
    ], { expandDbname: true });
    expect(r.ok && Object.fromEntries(r.values)).to.deep.equal({ password: 'inner', host: 'h', user: 'u', dbname: 'd', fallback_application_name: 'psql' });
  });
  it('a plain dbname stays a name', () => {
    const r = conninfoArrayParse([['dbname', 'mydb']], { expandDbname: true });
    expect(r.ok && Object.fromEntries(r.values)).to.deep.equal({ dbname: 'mydb' });
  });
  it('an unknown keyword in the array is an error', () => {
    const r = conninfoArrayParse([['bogus', 'x']], { expandDbname: true });
    expect(r.ok ? '' : r.error).to.equal('invalid connection option "bogus"');
  });
});

describe('the password file (~/.pgpass)', () => {
  const file = path.join(home, 'pgpass');
  writeFileSync(file, [
    '# comment',
    'otherhost:5432:*:u:wrong',
    'localhost:5432:db:u:sock\\:et',
    '127.0.0.1:*:*:u:any-port',
    'h\\:x:5433:db:u:escaped-host',
    '*:*:*:*:fallback',
  ].join('\n'));
  chmodSync(file, 0o600);
  const cases: Array<[string, string | null, string | null, string, string, string | null]> = [
    ['the default socket directory counts as localhost', '/var/run/postgresql', '5432', 'db', 'u', 'sock:et'],
    ['no host counts as localhost', null, null, 'db', 'u', 'sock:et'],
    ['* matches any port', '127.0.0.1', '9999', 'x', 'u', 'any-port'],
    ['\\: in a field matches a colon', 'h:x', '5433', 'db', 'u', 'escaped-host'],
    ['first matching line wins, * for the rest', 'elsewhere', '1', 'd', 'v', 'fallback'],
  ];
  for (const [name, host, port, db, user, expected] of cases) {
    it(name, () => {
      expect(passwordFromFile(host, port, db, user, file, undefined, () => {})).to.equal(expected);
    });
  }
  it('a file others can read is ignored, with libpq\'s warning', () => {
    const loose = path.join(home, 'pgpass-loose');
    writeFileSync(loose, '*:*:*:*:pw\n');
    chmodSync(loose, 0o644);
    const warnings: string[] = [];
    expect(passwordFromFile('h', '1', 'd', 'u', loose, undefined, (l) => warnings.push(l))).to.equal(null);
    expect(warnings).to.deep.equal([`WARNING: password file "${loose}" has group or world access; permissions should be u=rw (0600) or less\n`]);
  });
  it('is consulted per host when no password is given', () => {
    const r = resolveConnOptions(new Map([['host', 'otherhost,127.0.0.1'], ['user', 'u'], ['passfile', file]]), { version: 15, environ: {}, osUser: 'u', homeDir: null });
    expect(r.ok && r.options.hosts.map((h) => h.password)).to.deep.equal(['wrong', 'any-port']);
  });
});
