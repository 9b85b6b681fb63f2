import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  GucRegistry, checkPostmasterSettings, createGucRegistry, deescapeQuotedString, parseConfigFile, parseConfigText,
  processConfigFile, resolveDataFile, type ConfigMessage,
} from '../../src/config/index.js';
import { formatLogRecord } from '../../src/log/index.js';

/** The messages as the server log shows them with an empty log_line_prefix. */
function logText(messages: ConfigMessage[]): string {
  return messages.map((m) => formatLogRecord('', m)).join('');
}

const VIRTUAL = '/virt/postgresql.conf';

describe('config/postgresql-conf', () => {
  describe('parsing lines (guc-file.l)', () => {
    const cases: Array<[string, string, Array<[string, string, number]>]> = [
      ['name = value', 'port = 5432', [['port', '5432', 1]]],
      ['the = is optional', 'port 5432', [['port', '5432', 1]]],
      ['quoted string', "listen_addresses = '*'", [['listen_addresses', '*', 1]]],
      ['doubled quote', "x.y = 'it''s'", [['x.y', "it's", 1]]],
      // Observed on PG 15: SHOW log_line_prefix gave exactly this for the line below.
      ['backslash escapes, octal, unknown escapes', "log_line_prefix = 'a\\tb''c\\\\d\\x41\\101\\q\\1012|'", [['log_line_prefix', "a\tb'c\\dx41AqA2|", 1]]],
      ['\\b \\f \\n \\r', "x.y = '\\b\\f\\n\\r'", [['x.y', '\b\f\n\r', 1]]],
      ['an escaped NUL ends the value (observed)', "search_path = 'ab\\0cd'", [['search_path', 'ab', 1]]],
      ['unquoted value with - . _ : /', 'cluster_name = unquoted-val.x:y/z', [['cluster_name', 'unquoted-val.x:y/z', 1]]],
      ['real', 'x.y = 1.5', [['x.y', '1.5', 1]]],
      ['leading-dot real', 'x.y = .5', [['x.y', '.5', 1]]],
      ['signed integer', 'x.y = -5', [['x.y', '-5', 1]]],
      ['hex integer', 'x.y = 0x1F', [['x.y', '0x1F', 1]]],
      ['integer with unit', 'x.y = 10ms', [['x.y', '10ms', 1]]],
      ['enum-like unquoted', 'password_encryption = scram-sha-256', [['password_encryption', 'scram-sha-256', 1]]],
      ['trailing comment', 'port = 5432 # the port', [['port', '5432', 1]]],
      ['tabs, CR and blank lines', '\n  \tport\t5433\r\n\n', [['port', '5433', 2]]],
      ['comment-only file', '# nothing\n\n   # here\n', []],
      ['names keep their spelling', 'PORT = 1', [['PORT', '1', 1]]],
      ['qualified name', 'auth_delay.milliseconds = 500', [['auth_delay.milliseconds', '500', 1]]],
      ['high-bit letters and UTF-8 values', "café = 'naïve'", [['café', 'naïve', 1]]],
      ['no final newline', 'a.b = 1\nc.d = 2', [['a.b', '1', 1], ['c.d', '2', 2]]],
      ['every line, in order, duplicates kept', 'port = 1\nport = 2', [['port', '1', 1], ['port', '2', 2]]],
    ];
    for (const [title, text, expected] of cases) {
      it(title, () => {
        const r = parseConfigText(text, VIRTUAL);
        expect(r.messages).to.deep.equal([]);
        expect(r.ok).to.equal(true);
        expect(r.items.map((i) => [i.name, i.value, i.sourceline])).to.deep.equal(expected);
      });
    }
  });

  describe('syntax errors (messages observed on PG 15, line numbers shifted to these files)', () => {
    const cases: Array<[string, string, string[]]> = [
      ['port = 5432 extra', 'junk after the value', ['syntax error in file "/virt/postgresql.conf" line 1, near token "extra"']],
      ['port =\n', 'no value', ['syntax error in file "/virt/postgresql.conf" line 1, near end of line']],
      ['port =', 'no value and no newline: PostgreSQL says line 0', ['syntax error in file "/virt/postgresql.conf" line 0, near end of line']],
      ['= 5', 'no name', ['syntax error in file "/virt/postgresql.conf" line 1, near token "="']],
      ['port = /tmp/x', 'unquoted path', ['syntax error in file "/virt/postgresql.conf" line 1, near token "/"']],
      ['a.b.c = 1', 'three-part name', ['syntax error in file "/virt/postgresql.conf" line 1, near token "a.b.c"']],
      ['max_connections = 1e10', 'exponent without a dot', ['syntax error in file "/virt/postgresql.conf" line 1, near token "10"']],
      ['shared_buffers = 1.5GB', 'unit after a real', ['syntax error in file "/virt/postgresql.conf" line 1, near token "GB"']],
      ["x = 'unterminated", 'unterminated string', ['syntax error in file "/virt/postgresql.conf" line 1, near token "\'"']],
      ['port = 5432 # comment\n\tport\t5433\r\nlisten_addresses = ""', 'double quotes', ['syntax error in file "/virt/postgresql.conf" line 3, near token """']],
      ['port = 1.2.3', 'two dots', ['syntax error in file "/virt/postgresql.conf" line 1, near token ".3"']],
      ['port = -', 'lone sign', ['syntax error in file "/virt/postgresql.conf" line 1, near token "-"']],
      // At end of file without a newline PostgreSQL reports the line before.
      ['\n\nport =', 'end of file after =', ['syntax error in file "/virt/postgresql.conf" line 2, near end of line']],
      ['\n\nport', 'end of file after the name', ['syntax error in file "/virt/postgresql.conf" line 2, near end of line']],
      ['\n\nport = 5 6', 'junk at end of file', ['syntax error in file "/virt/postgresql.conf" line 3, near token "6"']],
      ['a = = 1\nport = 1\nb c d', 'every bad line is reported', [
        'syntax error in file "/virt/postgresql.conf" line 1, near token "="',
        'syntax error in file "/virt/postgresql.conf" line 3, near token "d"',
      ]],
    ];
    for (const [text, title, messages] of cases) {
      it(title, () => {
        const r = parseConfigText(text, VIRTUAL);
        expect(r.ok).to.equal(false);
        expect(r.messages.map((m) => m.message)).to.deep.equal(messages);
        expect(r.messages.every((m) => m.severity === 'LOG' && m.sqlstate === '42601')).to.equal(true);
      });
    }

    it('carries the file and line of each error', () => {
      const r = parseConfigText('a.b = 1\nport = 5 6\n', VIRTUAL);
      expect(r.messages[0]).to.include({ configFile: VIRTUAL, configLine: 2 });
    });

    it('gives up after 100 syntax errors (observed tail)', () => {
      const r = parseConfigText('x y z\n'.repeat(105), VIRTUAL);
      expect(r.messages).to.have.length(101);
      expect(r.messages.slice(-2).map((m) => m.message)).to.deep.equal([
        'syntax error in file "/virt/postgresql.conf" line 100, near token "z"',
        'too many syntax errors found, abandoning file "/virt/postgresql.conf"',
      ]);
      expect(r.messages[100]!.sqlstate).to.equal('54000');
    });
  });

  describe('deescapeQuotedString', () => {
    const cases: Array<[string, string]> = [
      ["''", ''], ["'a''b'", "a'b"], ["'\\''", "'"], ["'\\\\'", '\\'], ["'\\7'", '\x07'], ["'\\101\\102'", 'AB'],
      ["'\\1234'", 'S4'], ["'\\8'", '8'],
    ];
    for (const [input, out] of cases) it(`${input} -> ${JSON.stringify(out)}`, () => expect(deescapeQuotedString(input)).to.equal(out));
  });

  describe('files, includes and processing', () => {
    let dir: string;
    let conf: string;
    const write = (rel: string, text: string) => {
      const p = path.join(dir, rel);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, text);
      return p;
    };
    /** The main file ends with `snippet` after `lead` lines, as the live runs appended to a stock file. */
    const startup = (snippet: string, registry: GucRegistry = createGucRegistry()) => {
      fs.writeFileSync(conf, snippet);
      return { registry, result: processConfigFile(registry, conf, { context: 'postmaster' }) };
    };

    beforeEach(() => {
      dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'pgconf-')));
      conf = path.join(dir, 'postgresql.conf');
      write('sub/a.conf', "application_name = 'from_sub'\n");
      write('sub/b.conf', "include 'a.conf'\n");
      write('sub/badval.conf', 'port = zzz\n');
      write('sub/badsyn.conf', 'port = 5 5\n');
      write('sub/self.conf', "include 'self.conf'\n");
      write('sub/loop1.conf', "include 'loop2.conf'\n");
      write('sub/loop2.conf', "include 'loop1.conf'\n");
      write('sub/unk.conf', 'nosuch_x = 1\n');
      write('conf.d/10-a.conf', "application_name = 'd1'\n");
      write('conf.d/20-b.conf', "application_name = 'd2'\n");
      write('conf.d/.h.conf', "application_name = 'hidden'\n");
      write('conf.d/z.txt', "application_name = 'txt'\n");
      write('conf.d/b.conf', "application_name = 'last'\n"); // 6 characters: just long enough to count
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('applies a good file and records where each value came from', () => {
      const { registry, result } = startup("port = 5433\nssl = on\nauthentication_timeout = '2min'\n");
      expect(result.ok).to.equal(true);
      expect(result.messages).to.deep.equal([]);
      expect([registry.get('port'), registry.get('ssl'), registry.show('authentication_timeout')]).to.deep.equal([5433, true, '2min']);
      expect(registry.sourceLocation('authentication_timeout')).to.deep.equal({ file: conf, line: 3 });
      expect(registry.source('port')).to.equal('file');
    });

    it('defaults hba_file and ident_file beside the configuration file (SelectConfigFiles)', () => {
      const { registry } = startup('port = 5433\n');
      expect(registry.show('hba_file')).to.equal(path.join(dir, 'pg_hba.conf'));
      expect(registry.show('ident_file')).to.equal(path.join(dir, 'pg_ident.conf'));
      const second = startup("hba_file = 'conf/hba.conf'\n");
      expect(second.registry.show('hba_file')).to.equal(path.join(dir, 'conf/hba.conf'));
    });

    it('takes the last of duplicate settings and ignores earlier bad ones (observed)', () => {
      const { registry, result } = startup('port = 5432\nport = bad\nport = 55931\n');
      expect(result.ok).to.equal(true);
      expect(registry.get('port')).to.equal(55931);
      expect(result.items.map((i) => i.ignore)).to.deep.equal([true, true, false]);
    });

    it('follows include relative to the including file, nested', () => {
      const { registry, result } = startup("include 'sub/b.conf'\n");
      expect(result.ok).to.equal(true);
      expect(registry.show('application_name')).to.equal('from_sub');
      expect(registry.sourceLocation('application_name')).to.deep.equal({ file: path.join(dir, 'sub/a.conf'), line: 1 });
    });

    it('reads include_dir files ending in .conf, in name order, skipping dot-files (observed)', () => {
      const { registry, result } = startup("include_dir 'conf.d'\n");
      expect(result.ok).to.equal(true);
      expect(result.items.map((i) => path.basename(i.filename))).to.deep.equal(['10-a.conf', '20-b.conf', 'b.conf']);
      expect(registry.show('application_name')).to.equal('last');
    });

    it('logs a missing include_if_exists file twice at startup, once per pass (observed)', () => {
      const { result } = startup("include_if_exists 'nope.conf'\nport = 5433\n");
      expect(result.ok).to.equal(true);
      expect(logText(result.messages)).to.equal(
        `LOG:  skipping missing configuration file "${dir}/nope.conf"\n`.repeat(2));
    });

    it('logs it once on reload', () => {
      fs.writeFileSync(conf, "include_if_exists 'nope.conf'\n");
      const result = processConfigFile(createGucRegistry(), conf, { context: 'sighup' });
      expect(result.messages.map((m) => m.message)).to.deep.equal([`skipping missing configuration file "${dir}/nope.conf"`]);
    });

    // Each row: main file text, the log PostgreSQL 15 wrote (observed; paths are this test's).
    const failures: Array<[string, string, (d: string) => string]> = [
      ['missing include', "include 'nosuch.conf'",
        (d) => `LOG:  could not open configuration file "${d}/nosuch.conf": No such file or directory\n` +
          `FATAL:  configuration file "${d}/postgresql.conf" contains errors\n`],
      ['empty include name', "include ''",
        (d) => `LOG:  empty configuration file name: ""\nFATAL:  configuration file "${d}/postgresql.conf" contains errors\n`],
      ['blank include name', "include '  '",
        (d) => `LOG:  empty configuration file name: "  "\nFATAL:  configuration file "${d}/postgresql.conf" contains errors\n`],
      ['bad value in an included file names that file', "include 'sub/badval.conf'",
        (d) => `LOG:  invalid value for parameter "port": "zzz"\nFATAL:  configuration file "${d}/sub/badval.conf" contains errors\n`],
      ['syntax error in an included file names the main file', "include 'sub/badsyn.conf'",
        (d) => `LOG:  syntax error in file "${d}/sub/badsyn.conf" line 1, near token "5"\n` +
          `FATAL:  configuration file "${d}/postgresql.conf" contains errors\n`],
      ['direct recursion', "include 'sub/self.conf'",
        (d) => `LOG:  configuration file recursion in "${d}/sub/self.conf"\nFATAL:  configuration file "${d}/postgresql.conf" contains errors\n`],
      ['indirect recursion hits the depth limit', "include 'sub/loop1.conf'",
        (d) => `LOG:  could not open configuration file "loop1.conf": maximum nesting depth exceeded\n` +
          `FATAL:  configuration file "${d}/postgresql.conf" contains errors\n`],
      ['unknown parameter in an included file', "include 'sub/unk.conf'",
        (d) => `LOG:  unrecognized configuration parameter "nosuch_x" in file "${d}/sub/unk.conf" line 1\n` +
          `FATAL:  configuration file "${d}/sub/unk.conf" contains errors\n`],
      ['missing include_dir', "include_dir 'nosuchdir'",
        (d) => `LOG:  could not open configuration directory "${d}/nosuchdir": No such file or directory\n` +
          `FATAL:  configuration file "${d}/postgresql.conf" contains errors\n`],
      ['include_dir of a file', "include_dir 'sub/badval.conf'",
        (d) => `LOG:  could not open configuration directory "${d}/sub/badval.conf": Not a directory\n` +
          `FATAL:  configuration file "${d}/postgresql.conf" contains errors\n`],
      ['include_if_exists of a directory', "include_if_exists 'sub'",
        (d) => `LOG:  input in flex scanner failed at file "${d}/sub" line 1\nFATAL:  configuration file "${d}/postgresql.conf" contains errors\n`],
      ['include with =', "include = 'sub/badval.conf'",
        (d) => `LOG:  invalid value for parameter "port": "zzz"\nFATAL:  configuration file "${d}/sub/badval.conf" contains errors\n`],
      ['INCLUDE in capitals', "INCLUDE 'sub/badval.conf'",
        (d) => `LOG:  invalid value for parameter "port": "zzz"\nFATAL:  configuration file "${d}/sub/badval.conf" contains errors\n`],
      ['unknown names, in file order, stop before any value is checked', 'port = abc\nBogus_Param = 1\nfoo = 2',
        (d) => `LOG:  unrecognized configuration parameter "Bogus_Param" in file "${d}/postgresql.conf" line 2\n` +
          `LOG:  unrecognized configuration parameter "foo" in file "${d}/postgresql.conf" line 3\n` +
          `FATAL:  configuration file "${d}/postgresql.conf" contains errors\n`],
      ['every bad value is reported', 'port = abc\nssl = maybe\nauthentication_timeout = 0\npassword_encryption = x\nlog_timezone = \'Foo/Bar\'',
        (d) => 'LOG:  invalid value for parameter "port": "abc"\n' +
          'LOG:  parameter "ssl" requires a Boolean value\n' +
          'LOG:  0 s is outside the valid range for parameter "authentication_timeout" (1 .. 600)\n' +
          'LOG:  invalid value for parameter "password_encryption": "x"\n' +
          'HINT:  Available values: md5, scram-sha-256.\n' +
          'LOG:  invalid value for parameter "log_timezone": "Foo/Bar"\n' +
          `FATAL:  configuration file "${d}/postgresql.conf" contains errors\n`],
      ['a hint for a bad unit', 'authentication_timeout = 5x',
        (d) => 'LOG:  invalid value for parameter "authentication_timeout": "5x"\n' +
          'HINT:  Valid units for this parameter are "us", "ms", "s", "min", "h", and "d".\n' +
          `FATAL:  configuration file "${d}/postgresql.conf" contains errors\n`],
      ['a syntax error', 'port = 5432 extra',
        (d) => `LOG:  syntax error in file "${d}/postgresql.conf" line 1, near token "extra"\n` +
          `FATAL:  configuration file "${d}/postgresql.conf" contains errors\n`],
    ];
    for (const [title, text, expected] of failures) {
      it(`refuses to start: ${title}`, () => {
        const { result } = startup(`${text}\n`);
        expect(result.ok).to.equal(false);
        expect(logText(result.messages)).to.equal(expected(dir));
        expect(result.fatal?.severity).to.equal('FATAL');
        expect(result.fatal?.sqlstate).to.equal('F0000');
      });
    }

    it('gives each message its SQLSTATE (observed with %e)', () => {
      const { result } = startup('port = abc\nssl = maybe\n');
      expect(result.messages.map((m) => m.sqlstate)).to.deep.equal(['22023', '22023', 'F0000']);
      const { result: r2 } = startup("include 'nosuch.conf'\n");
      expect(r2.messages[0]!.sqlstate).to.equal('58P01');
      const { result: r3 } = startup('nosuch = 1\n');
      expect(r3.messages[0]).to.include({ sqlstate: '42704', configFile: conf, configLine: 1 });
    });

    it('leaves the registry untouched when a name is unknown', () => {
      const { registry } = startup('port = 6000\nnosuch = 1\n');
      expect(registry.get('port')).to.equal(5432);
    });

    it('creates placeholders for dotted names, for the extension to claim later', () => {
      const { registry, result } = startup("auth_delay.milliseconds = 'abc'\nmy_ext.x1 = 2\n");
      expect(result.ok).to.equal(true);
      expect(registry.isPlaceholder('auth_delay.milliseconds')).to.equal(true);
      registry.defineCustomIntVariable('auth_delay.milliseconds', { boot: 0, min: 0, max: 2147483, context: 'sighup', unit: 'ms' });
      expect(registry.messages.map((m) => formatLogRecord('', m)).join('')).to.equal(
        'WARNING:  invalid value for parameter "auth_delay.milliseconds": "abc"\n');
      expect(registry.get('auth_delay.milliseconds')).to.equal(0);
    });

    describe('reload (SIGHUP), replaying an observed session', () => {
      function started(): GucRegistry {
        const registry = createGucRegistry();
        registry.define({ name: 'statement_timeout', type: 'int', context: 'user', boot: 0, min: 0, max: 2147483647, unit: 'ms' });
        fs.writeFileSync(conf, "port = 55931\nshared_preload_libraries = 'auth_delay'\nauth_delay.milliseconds = 2000\n");
        expect(processConfigFile(registry, conf, { context: 'postmaster' }).ok).to.equal(true);
        registry.defineCustomIntVariable('auth_delay.milliseconds', { boot: 0, min: 0, max: 2147483, context: 'sighup', unit: 'ms' });
        registry.markPrefixReserved('auth_delay');
        return registry;
      }

      it('an unknown name rejects the whole file: no changes were applied', () => {
        const registry = started();
        fs.appendFileSync(conf, 'auth_delay.milliseconds = 3000\nbogus_thing = 1\n');
        const result = processConfigFile(registry, conf, { context: 'sighup' });
        expect(logText(result.messages)).to.equal(
          `LOG:  unrecognized configuration parameter "bogus_thing" in file "${conf}" line 5\n` +
          `LOG:  configuration file "${conf}" contains errors; no changes were applied\n`);
        expect(registry.get('auth_delay.milliseconds')).to.equal(2000);
        expect(result.fatal).to.equal(undefined);
      });

      it('otherwise good values apply around the bad ones', () => {
        const registry = started();
        fs.appendFileSync(conf, 'auth_delay.milliseconds = 3000\nauth_delay.bogus = 3\nport = 55932\nstatement_timeout = 1h\n');
        const result = processConfigFile(registry, conf, { context: 'sighup' });
        expect(logText(result.messages)).to.equal(
          'LOG:  parameter "auth_delay.milliseconds" changed to "3000"\n' +
          'LOG:  invalid configuration parameter name "auth_delay.bogus"\n' +
          'DETAIL:  "auth_delay" is a reserved prefix.\n' +
          'LOG:  parameter "port" cannot be changed without restarting the server\n' +
          'LOG:  parameter "statement_timeout" changed to "1h"\n' +
          `LOG:  configuration file "${conf}" contains errors; unaffected changes were applied\n`);
        expect([registry.show('auth_delay.milliseconds'), registry.get('port'), registry.show('statement_timeout')])
          .to.deep.equal(['3s', 55931, '1h']);
      });

      it('settings removed from the file go back to their defaults, or ask for a restart (observed)', () => {
        const registry = createGucRegistry();
        fs.writeFileSync(conf, 'log_connections = on\nmax_connections = 50\npassword_encryption = md5\n');
        processConfigFile(registry, conf, { context: 'postmaster' });
        fs.writeFileSync(conf, 'password_encryption = MD5\n');
        const result = processConfigFile(registry, conf, { context: 'sighup' });
        expect(logText(result.messages)).to.equal(
          'LOG:  parameter "log_connections" removed from configuration file, reset to default\n' +
          'LOG:  parameter "max_connections" cannot be changed without restarting the server\n' +
          `LOG:  configuration file "${conf}" contains errors; unaffected changes were applied\n`);
        expect([registry.get('log_connections'), registry.get('max_connections')]).to.deep.equal([false, 50]);
      });

      it('a clean reload that changes nothing logs nothing', () => {
        const registry = started();
        const result = processConfigFile(registry, conf, { context: 'sighup' });
        expect(result.ok).to.equal(true);
        expect(result.messages).to.deep.equal([]);
      });
    });

    it('parseConfigFile reads a file without applying it', () => {
      fs.writeFileSync(conf, "port = 1\ninclude 'sub/a.conf'\n");
      const r = parseConfigFile(conf);
      expect(r.items.map((i) => [i.name, i.value, path.relative(dir, i.filename), i.sourceline]))
        .to.deep.equal([['port', '1', 'postgresql.conf', 1], ['application_name', 'from_sub', 'sub/a.conf', 1]]);
    });

    it('resolves file parameters against the data directory', () => {
      const { registry } = startup("ssl_cert_file = 'server.crt'\nssl_key_file = '/abs/server.key'\n");
      expect(resolveDataFile(registry, 'ssl_cert_file', dir)).to.equal(path.join(dir, 'server.crt'));
      expect(resolveDataFile(registry, 'ssl_key_file', dir)).to.equal('/abs/server.key');
    });
  });

  it('checks superuser_reserved_connections against max_connections as the postmaster does', () => {
    const r = createGucRegistry();
    expect(checkPostmasterSettings(r)).to.equal(null);
    r.set('max_connections', '3', 'file');
    expect(checkPostmasterSettings(r)).to.equal('postgres: superuser_reserved_connections (3) must be less than max_connections (3)\n');
  });
});
