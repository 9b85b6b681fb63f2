import { expect } from 'chai';
import { PgError } from '../../src/errors.js';
import {
  BUILTIN_GUCS, GucRegistry, createGucRegistry, splitGucList, validCustomVariableName,
  type GucSource, type SetOptions,
} from '../../src/config/index.js';

/** A registry with the built-ins plus a few PG 15 parameters the unit tables need (defined as in guc.c). */
function registry(): GucRegistry {
  const r = createGucRegistry();
  r.define({ name: 'statement_timeout', type: 'int', context: 'user', boot: 0, min: 0, max: 2147483647, unit: 'ms' });
  r.define({ name: 'work_mem', type: 'int', context: 'user', boot: 4096, min: 64, max: 2147483647, unit: 'kB' });
  r.define({ name: 'shared_buffers', type: 'int', context: 'postmaster', boot: 16384, min: 16, max: 1073741823, unit: 'blocks' });
  r.define({ name: 'random_page_cost', type: 'real', context: 'user', boot: 4, min: 0, max: Number.MAX_VALUE });
  r.define({ name: 'vacuum_cost_delay', type: 'real', context: 'user', boot: 0, min: 0, max: 100, unit: 'ms' });
  r.define({ name: 'enable_seqscan', type: 'bool', context: 'user', boot: true });
  return r;
}

function errorOf(fn: () => unknown): PgError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PgError) return e;
    throw e;
  }
  throw new Error('expected a PgError');
}

const TIME_HINT = 'Valid units for this parameter are "us", "ms", "s", "min", "h", and "d".';
const MEMORY_HINT = 'Valid units for this parameter are "B", "kB", "MB", "GB", and "TB".';

describe('config/guc: GucRegistry', () => {
  describe('values accepted and how SHOW prints them (each row observed with SET/SHOW on PostgreSQL 15.20)', () => {
    const cases: Array<[string, string, string]> = [
      ['statement_timeout', '010', '8ms'],
      ['statement_timeout', '0x10', '16ms'],
      ['statement_timeout', '60000', '1min'],
      ['statement_timeout', '3600000', '1h'],
      ['statement_timeout', '86400000', '1d'],
      ['statement_timeout', '1.5', '2ms'],
      ['statement_timeout', '2.5', '2ms'],
      ['statement_timeout', '1e3', '1s'],
      ['statement_timeout', '1us', '0'],
      ['statement_timeout', '1500us', '2ms'],
      ['statement_timeout', '  5', '5ms'],
      ['statement_timeout', '+5', '5ms'],
      ['statement_timeout', '1.5h', '90min'],
      ['work_mem', '1.5MB', '1536kB'],
      ['work_mem', '1000000B', '977kB'],
      ['work_mem', '1GB', '1GB'],
      ['work_mem', '64', '64kB'],
      ['enable_seqscan', 'of', 'off'],
      ['enable_seqscan', 'TR', 'on'],
      ['enable_seqscan', 'y', 'on'],
      ['enable_seqscan', '1', 'on'],
      ['enable_seqscan', 'No', 'off'],
      ['random_page_cost', '1e3', '1000'],
      ['random_page_cost', '0.1', '0.1'],
      ['random_page_cost', '1234567.5', '1.23457e+06'],
      ['vacuum_cost_delay', '2.5', '2500us'],
      ['vacuum_cost_delay', '500us', '500us'],
      ['vacuum_cost_delay', '0.3ms', '300us'],
      ['password_encryption', 'MD5', 'md5'],
      ['log_error_verbosity', 'Verbose', 'verbose'],
      ['TimeZone', 'utc', 'UTC'],
      ['timezone', '+3', '<+03>-03'],
      ['timezone', '-5.5', '<-05:30>+05:30'],
      ['timezone', 'europe/berlin', 'Europe/Berlin'],
      ['application_name', 'héllo', 'h??llo'],
    ];
    for (const [name, value, shown] of cases) {
      it(`SET ${name} = '${value}' shows ${shown}`, () => {
        const r = registry();
        expect(r.set(name, value, 'session', { isSuperuser: true })).to.equal('applied');
        expect(r.show(name)).to.equal(shown);
      });
    }
  });

  describe('values rejected, with PostgreSQL 15\'s exact message and hint (observed)', () => {
    const cases: Array<[string, string, string, string | undefined, string]> = [
      ['statement_timeout', '08', 'invalid value for parameter "statement_timeout": "08"', TIME_HINT, '22023'],
      ['statement_timeout', '5 MS', 'invalid value for parameter "statement_timeout": "5 MS"', TIME_HINT, '22023'],
      ['statement_timeout', '5msx', 'invalid value for parameter "statement_timeout": "5msx"', TIME_HINT, '22023'],
      ['statement_timeout', '5 ms x', 'invalid value for parameter "statement_timeout": "5 ms x"', TIME_HINT, '22023'],
      ['statement_timeout', '0x', 'invalid value for parameter "statement_timeout": "0x"', TIME_HINT, '22023'],
      ['statement_timeout', '-1', '-1 ms is outside the valid range for parameter "statement_timeout" (0 .. 2147483647)', undefined, '22023'],
      ['statement_timeout', '3000000000', 'invalid value for parameter "statement_timeout": "3000000000"', 'Value exceeds integer range.', '22023'],
      ['statement_timeout', 'inf', 'invalid value for parameter "statement_timeout": "inf"', undefined, '22023'],
      ['statement_timeout', 'nan', 'invalid value for parameter "statement_timeout": "nan"', undefined, '22023'],
      ['statement_timeout', '', 'invalid value for parameter "statement_timeout": ""', undefined, '22023'],
      ['work_mem', '1kb', 'invalid value for parameter "work_mem": "1kb"', MEMORY_HINT, '22023'],
      ['enable_seqscan', 'o', 'parameter "enable_seqscan" requires a Boolean value', undefined, '22023'],
      ['enable_seqscan', ' on', 'parameter "enable_seqscan" requires a Boolean value', undefined, '22023'],
      ['enable_seqscan', '01', 'parameter "enable_seqscan" requires a Boolean value', undefined, '22023'],
      ['enable_seqscan', '', 'parameter "enable_seqscan" requires a Boolean value', undefined, '22023'],
      ['random_page_cost', '1s', 'invalid value for parameter "random_page_cost": "1s"', undefined, '22023'],
      ['random_page_cost', '-1', '-1 is outside the valid range for parameter "random_page_cost" (0 .. 1.79769e+308)', undefined, '22023'],
      ['vacuum_cost_delay', '1000ms', '1000 ms is outside the valid range for parameter "vacuum_cost_delay" (0 .. 100)', undefined, '22023'],
      ['password_encryption', 'on', 'invalid value for parameter "password_encryption": "on"', 'Available values: md5, scram-sha-256.', '22023'],
      ['timezone', 'Foo/Bar', 'invalid value for parameter "TimeZone": "Foo/Bar"', undefined, '22023'],
      ['nosuch', '1', 'unrecognized configuration parameter "nosuch"', undefined, '42704'],
    ];
    for (const [name, value, message, hint, sqlstate] of cases) {
      it(`${name} = '${value}': ${message}`, () => {
        const e = errorOf(() => registry().set(name, value, 'session', { isSuperuser: true }));
        expect(e.message).to.equal(message);
        expect(e.hint).to.equal(hint);
        expect(e.sqlstate).to.equal(sqlstate);
        expect(e.severity).to.equal('ERROR');
      });
    }

    it('names the parameter as the caller spelled it', () => {
      const e = errorOf(() => registry().set('Port', 'abc', 'file', { elevel: 'LOG' }));
      expect(e.message).to.equal('invalid value for parameter "Port": "abc"');
      expect(e.severity).to.equal('LOG');
    });

    it('reports a memory unit in blocks as "8kB"', () => {
      const e = errorOf(() => registry().set('shared_buffers', '1', 'file'));
      expect(e.message).to.equal('1 8kB is outside the valid range for parameter "shared_buffers" (16 .. 1073741823)');
    });

    it('lists an empty enum option first, as ssl_max_protocol_version does', () => {
      const e = errorOf(() => registry().set('ssl_max_protocol_version', 'TLSv9', 'file'));
      expect(e.hint).to.equal('Available values: , TLSv1, TLSv1.1, TLSv1.2, TLSv1.3.');
      const e2 = errorOf(() => registry().set('ssl_min_protocol_version', 'TLSv9', 'file'));
      expect(e2.hint).to.equal('Available values: TLSv1, TLSv1.1, TLSv1.2, TLSv1.3.');
    });
  });

  describe('authentication_timeout (seconds, 1 .. 600) from a file', () => {
    const cases: Array<[string, string | null, number | null]> = [
      ['2500ms', '2s', 2], // 2.5 rounds half to even
      ['1500ms', '2s', 2],
      ['0.5min', '30s', 30],
      ['120', '2min', 120],
      [' 7 s ', '7s', 7],
      ['10min', '10min', 600],
      ['0', null, null],
      ['11min', null, null],
      ['5x', null, null],
    ];
    for (const [value, shown, seconds] of cases) {
      it(`'${value}' -> ${shown ?? 'error'}`, () => {
        const r = registry();
        if (shown === null) {
          expect(() => r.set('authentication_timeout', value, 'file')).to.throw(PgError);
          expect(r.getNumber('authentication_timeout')).to.equal(60);
        } else {
          r.set('authentication_timeout', value, 'file');
          expect(r.show('authentication_timeout')).to.equal(shown);
          expect(r.getNumber('authentication_timeout')).to.equal(seconds);
        }
      });
    }
    it('rejects 0 with the range message and 5x with the time-units hint', () => {
      expect(errorOf(() => registry().set('authentication_timeout', '0', 'file')).message)
        .to.equal('0 s is outside the valid range for parameter "authentication_timeout" (1 .. 600)');
      expect(errorOf(() => registry().set('authentication_timeout', '5x', 'file')).hint).to.equal(TIME_HINT);
    });
  });

  describe('PostgreSQL 15 defaults (as pg_settings shows them)', () => {
    const cases: Array<[string, string]> = [
      ['port', '5432'], ['listen_addresses', 'localhost'], ['ssl', 'off'], ['ssl_cert_file', 'server.crt'],
      ['ssl_key_file', 'server.key'], ['ssl_ca_file', ''], ['ssl_min_protocol_version', 'TLSv1.2'],
      ['ssl_max_protocol_version', ''], ['password_encryption', 'scram-sha-256'], ['max_connections', '100'],
      ['superuser_reserved_connections', '3'], ['authentication_timeout', '1min'], ['log_line_prefix', '%m [%p] '],
      ['log_connections', 'off'], ['log_disconnections', 'off'], ['log_hostname', 'off'],
      ['shared_preload_libraries', ''], ['hba_file', ''], ['roles_file', 'roles.sql'], ['TimeZone', 'Etc/UTC'],
      ['log_timezone', 'Etc/UTC'], ['ssl_ciphers', 'HIGH:MEDIUM:+3DES:!aNULL'], ['log_error_verbosity', 'default'],
    ];
    for (const [name, shown] of cases) {
      it(`SHOW ${name} = '${shown}'`, () => expect(createGucRegistry().show(name)).to.equal(shown));
    }
    it('keeps bounds and units of the connection parameters', () => {
      const rows = new Map(createGucRegistry().settings().map((r) => [r.name, r]));
      expect(rows.get('authentication_timeout')).to.include({ unit: 's', minVal: '1', maxVal: '600', context: 'sighup', vartype: 'integer' });
      expect(rows.get('max_connections')).to.include({ minVal: '1', maxVal: '262143', context: 'postmaster' });
      expect(rows.get('superuser_reserved_connections')).to.include({ minVal: '0', maxVal: '262143' });
      expect(rows.get('port')).to.include({ minVal: '1', maxVal: '65535' });
      expect(rows.get('log_connections')).to.include({ context: 'superuser-backend', vartype: 'bool' });
      expect(rows.get('password_encryption')?.enumvals).to.deep.equal(['md5', 'scram-sha-256']);
    });
    it('server_version is the simulator\'s version knob: 15 by default, 15–18 accepted, anything else refused', () => {
      const r = createGucRegistry();
      expect(r.getString('server_version')).to.equal('15');
      expect(r.set('server_version', '17.10', 'file', { context: 'postmaster' })).to.equal('applied');
      expect(r.getString('server_version')).to.equal('17.10');
      expect(() => r.set('server_version', '14', 'file', { context: 'postmaster' })).to.throw('invalid value for parameter "server_version": "14"');
    });
    it('reads typed values', () => {
      const r = createGucRegistry();
      expect(r.getBool('ssl')).to.equal(false);
      expect(r.getNumber('authentication_timeout')).to.equal(60);
      expect(r.getString('password_encryption')).to.equal('scram-sha-256');
      expect(r.get('port')).to.equal(5432);
      expect(() => r.getBool('port')).to.throw(TypeError);
      expect(r.getConfigOption('authentication_timeout')).to.equal('60');
      expect(r.getConfigOption('nosuch')).to.equal(undefined);
      expect(() => r.show('nosuch')).to.throw('unrecognized configuration parameter "nosuch"');
    });
    it('looks names up case-insensitively and knows the canonical spelling', () => {
      const r = createGucRegistry();
      expect(r.canonicalName('TIMEZONE')).to.equal('TimeZone');
      expect(r.show('LOG_LINE_PREFIX')).to.equal('%m [%p] ');
    });
  });

  describe('contexts: who may set what, when', () => {
    const cases: Array<[string, string, GucSource, SetOptions, string | null, string]> = [
      ['port', '5433', 'client', {}, 'parameter "port" cannot be changed without restarting the server', '55P02'],
      ['port', '5433', 'session', {}, 'parameter "port" cannot be changed without restarting the server', '55P02'],
      ['authentication_timeout', '5', 'client', {}, 'parameter "authentication_timeout" cannot be changed now', '55P02'],
      ['authentication_timeout', '5', 'session', { isSuperuser: true }, 'parameter "authentication_timeout" cannot be changed now', '55P02'],
      ['log_connections', 'on', 'client', {}, 'permission denied to set parameter "log_connections"', '42501'],
      ['log_connections', 'on', 'client', { isSuperuser: true }, null, ''],
      ['log_connections', 'on', 'session', { isSuperuser: true }, 'parameter "log_connections" cannot be set after connection start', '55P02'],
      ['log_error_verbosity', 'terse', 'session', {}, 'permission denied to set parameter "log_error_verbosity"', '42501'],
      ['log_error_verbosity', 'terse', 'session', { isSuperuser: true }, null, ''],
      ['password_encryption', 'md5', 'client', {}, null, ''],
      ['port', '5433', 'file', { context: 'postmaster' }, null, ''],
      ['authentication_timeout', '5', 'file', { context: 'sighup' }, null, ''],
    ];
    for (const [name, value, source, opts, message, sqlstate] of cases) {
      it(`${name} from ${source}${opts.isSuperuser ? ' (superuser)' : ''}: ${message ?? 'allowed'}`, () => {
        const r = createGucRegistry();
        if (message === null) {
          expect(r.set(name, value, source, opts)).to.equal('applied');
        } else {
          const e = errorOf(() => r.set(name, value, source, opts));
          expect([e.message, e.sqlstate]).to.deep.equal([message, sqlstate]);
        }
      });
    }

    it('on reload, an unchanged postmaster parameter is quietly kept and a changed one is refused', () => {
      const r = createGucRegistry();
      r.set('port', '5433', 'file', { context: 'postmaster' });
      expect(r.set('port', '5433', 'file', { context: 'sighup' })).to.equal('ignored');
      const e = errorOf(() => r.set('port', '5434', 'file', { context: 'sighup', elevel: 'LOG' }));
      expect(e.message).to.equal('parameter "port" cannot be changed without restarting the server');
      expect(r.get('port')).to.equal(5433);
      expect(r.pendingRestart('port')).to.equal(true);
    });

    it('lets a higher-priority source stand but still validates a lower one', () => {
      const r = createGucRegistry();
      r.set('password_encryption', 'md5', 'session');
      expect(r.set('password_encryption', 'scram-sha-256', 'file', { context: 'sighup' })).to.equal('ignored');
      expect(r.get('password_encryption')).to.equal('md5');
      expect(() => r.set('password_encryption', 'bogus', 'file', { context: 'sighup' })).to.throw(PgError);
    });

    it('validates without applying when asked', () => {
      const r = createGucRegistry();
      expect(r.set('port', '6000', 'file', { validateOnly: true })).to.equal('ignored');
      expect(r.get('port')).to.equal(5432);
    });

    it('resets to the boot value with null', () => {
      const r = createGucRegistry();
      r.set('password_encryption', 'md5', 'session');
      r.set('password_encryption', null, 'session');
      expect(r.get('password_encryption')).to.equal('scram-sha-256');
    });

    it('a fork copies values without sharing them', () => {
      const postmaster = createGucRegistry();
      postmaster.set('log_connections', 'on', 'file');
      const backend = postmaster.fork();
      backend.set('password_encryption', 'md5', 'client');
      expect(backend.getBool('log_connections')).to.equal(true);
      expect(postmaster.get('password_encryption')).to.equal('scram-sha-256');
    });
  });

  describe('application_name (GUC_IS_NAME, check_application_name)', () => {
    it('truncates to 63 bytes with a NOTICE, as observed', () => {
      const r = createGucRegistry();
      r.set('application_name', 'a'.repeat(80), 'session');
      expect(r.show('application_name')).to.equal('a'.repeat(63));
      expect(r.messages).to.deep.equal([{
        severity: 'NOTICE', sqlstate: '42622',
        message: `identifier "${'a'.repeat(80)}" will be truncated to "${'a'.repeat(63)}"`,
      }]);
    });
    it('does not split a multibyte character when truncating', () => {
      const r = createGucRegistry();
      r.set('application_name', `${'a'.repeat(62)}é`, 'session');
      expect(r.show('application_name')).to.equal('a'.repeat(62));
    });
  });

  describe('extension parameters: placeholders, DefineCustom*Variable, MarkGUCPrefixReserved', () => {
    /** What auth_delay's _PG_init does. */
    function loadAuthDelay(r: GucRegistry): void {
      r.defineCustomIntVariable('auth_delay.milliseconds', {
        description: 'Milliseconds to delay before reporting authentication failure',
        boot: 0, min: 0, max: Math.trunc(2147483647 / 1000), context: 'sighup', unit: 'ms',
      });
      r.markPrefixReserved('auth_delay');
    }

    it('accepts any dotted name as a string placeholder before the extension loads', () => {
      const r = createGucRegistry();
      expect(r.set('auth_delay.milliseconds', '2000', 'file')).to.equal('applied');
      expect(r.isPlaceholder('auth_delay.milliseconds')).to.equal(true);
      expect(r.show('auth_delay.milliseconds')).to.equal('2000');
      r.set('my_ext.whatever', 'abc', 'session');
      expect(r.show('MY_EXT.WHATEVER')).to.equal('abc');
    });

    it('turns a valid placeholder into the typed value, shown with units', () => {
      const r = createGucRegistry();
      r.set('auth_delay.milliseconds', '2000', 'file');
      loadAuthDelay(r);
      expect(r.isPlaceholder('auth_delay.milliseconds')).to.equal(false);
      expect(r.get('auth_delay.milliseconds')).to.equal(2000);
      expect(r.show('auth_delay.milliseconds')).to.equal('2s');
      expect(r.messages).to.deep.equal([]);
    });

    it('converts a placeholder given with a unit', () => {
      const r = createGucRegistry();
      r.set('auth_delay.milliseconds', '5s', 'file');
      loadAuthDelay(r);
      expect(r.get('auth_delay.milliseconds')).to.equal(5000);
    });

    // Observed: shared_preload_libraries = 'auth_delay' plus these lines start the server with a WARNING.
    const bad: Array<[string, string]> = [
      ['abc', 'invalid value for parameter "auth_delay.milliseconds": "abc"'],
      ['99999999', '99999999 ms is outside the valid range for parameter "auth_delay.milliseconds" (0 .. 2147483)'],
    ];
    for (const [value, message] of bad) {
      it(`warns about '${value}' and keeps the default`, () => {
        const r = createGucRegistry();
        r.set('auth_delay.milliseconds', value, 'file', { file: '/d/postgresql.conf', line: 3 });
        loadAuthDelay(r);
        expect(r.get('auth_delay.milliseconds')).to.equal(0);
        expect(r.messages).to.deep.equal([{ severity: 'WARNING', sqlstate: '22023', message }]);
      });
    }

    it('removes placeholders under a newly reserved prefix with a WARNING each (observed)', () => {
      const r = createGucRegistry();
      r.set('auth_delay.bogus', '5', 'file');
      r.set('auth_delay.other', 'x', 'file');
      r.set('other_ext.keep', '1', 'file');
      loadAuthDelay(r);
      expect(r.messages).to.deep.equal([
        {
          severity: 'WARNING', sqlstate: '42602',
          message: 'invalid configuration parameter name "auth_delay.bogus", removing it',
          detail: '"auth_delay" is now a reserved prefix.',
        },
        {
          severity: 'WARNING', sqlstate: '42602',
          message: 'invalid configuration parameter name "auth_delay.other", removing it',
          detail: '"auth_delay" is now a reserved prefix.',
        },
      ]);
      expect(r.has('auth_delay.bogus')).to.equal(false);
      expect(r.has('other_ext.keep')).to.equal(true);
    });

    it('then refuses new names under the prefix (observed: SET auth_delay.bogus = 1)', () => {
      const r = createGucRegistry();
      loadAuthDelay(r);
      const e = errorOf(() => r.set('auth_delay.bogus', '1', 'session'));
      expect(e.message).to.equal('invalid configuration parameter name "auth_delay.bogus"');
      expect(e.detail).to.equal('"auth_delay" is a reserved prefix.');
      expect(e.sqlstate).to.equal('42602');
      // ... while SHOW of it is simply unknown.
      expect(() => r.show('auth_delay.bogus')).to.throw('unrecognized configuration parameter "auth_delay.bogus"');
    });

    it('keeps its context: a sighup parameter cannot be SET in a session (observed)', () => {
      const r = createGucRegistry();
      loadAuthDelay(r);
      const e = errorOf(() => r.set('auth_delay.milliseconds', '5', 'session', { isSuperuser: true }));
      expect(e.message).to.equal('parameter "auth_delay.milliseconds" cannot be changed now');
    });

    it('rejects malformed custom names (observed: SET "my ext.x" = 1)', () => {
      const e = errorOf(() => createGucRegistry().set('my ext.x', '1', 'session'));
      expect(e.message).to.equal('invalid configuration parameter name "my ext.x"');
      expect(e.detail).to.equal('Custom parameter names must be two or more simple identifiers separated by dots.');
    });

    it('refuses to redefine a real parameter', () => {
      const r = createGucRegistry();
      loadAuthDelay(r);
      expect(() => r.defineCustomIntVariable('auth_delay.milliseconds', { boot: 0, min: 0, max: 1, context: 'user' }))
        .to.throw('attempt to redefine parameter "auth_delay.milliseconds"');
    });

    it('supports bool, real, string and enum extension parameters', () => {
      const r = createGucRegistry();
      r.set('ext.flag', 'yes', 'file');
      r.set('ext.ratio', '0.25', 'file');
      r.set('ext.mode', 'FAST', 'file');
      r.defineCustomBoolVariable('ext.flag', { boot: false, context: 'sighup' });
      r.defineCustomRealVariable('ext.ratio', { boot: 1, min: 0, max: 1, context: 'user' });
      r.defineCustomStringVariable('ext.label', { boot: 'none', context: 'user' });
      r.defineCustomEnumVariable('ext.mode', {
        boot: 'slow', context: 'user', options: [{ name: 'slow', value: 0 }, { name: 'fast', value: 1 }],
      });
      expect([r.get('ext.flag'), r.get('ext.ratio'), r.get('ext.label'), r.get('ext.mode')])
        .to.deep.equal([true, 0.25, 'none', 'fast']);
    });

    it('runs check hooks, with the default message naming the canonical parameter', () => {
      const r = createGucRegistry();
      r.defineCustomIntVariable('ext.even', {
        boot: 0, min: 0, max: 100, context: 'user',
        check: (v) => (v % 2 === 0 ? { ok: true } : { ok: false }),
      });
      expect(errorOf(() => r.set('EXT.EVEN', '3', 'session')).message).to.equal('invalid value for parameter "ext.even": 3');
      r.defineCustomStringVariable('ext.word', {
        boot: '', context: 'user',
        check: (v) => (/^\w*$/.test(v) ? { ok: true, value: v.toUpperCase() } : { ok: false, message: 'words only', hint: 'No blanks.' }),
      });
      r.set('ext.word', 'abc', 'session');
      expect(r.show('ext.word')).to.equal('ABC');
      const e = errorOf(() => r.set('ext.word', 'a b', 'session'));
      expect([e.message, e.hint]).to.deep.equal(['words only', 'No blanks.']);
    });
  });

  describe('validCustomVariableName', () => {
    const cases: Array<[string, boolean]> = [
      ['a.b', true], ['auth_delay.milliseconds', true], ['a.b.c', true], ['_x.$y1', true], ['a', false],
      ['a.', false], ['.a', false], ['a..b', false], ['a.1b', false], ['my ext.x', false], ['é.x', true],
    ];
    for (const [name, ok] of cases) it(`${name}: ${ok}`, () => expect(validCustomVariableName(name)).to.equal(ok));
  });

  describe('splitGucList (SplitGUCList)', () => {
    const cases: Array<[string, string[] | null]> = [
      ['', []],
      ['   ', []],
      ['auth_delay', ['auth_delay']],
      ['auth_delay, pg_stat_statements', ['auth_delay', 'pg_stat_statements']],
      ['localhost,127.0.0.1 , ::1', ['localhost', '127.0.0.1', '::1']],
      ['"a b", "say ""hi"""', ['a b', 'say "hi"']],
      ['Mixed', ['Mixed']],
      ['a,,b', null],
      ['a b', null],
      ['"open', null],
      ['a,', null],
    ];
    for (const [input, out] of cases) it(JSON.stringify(input), () => expect(splitGucList(input)).to.deep.equal(out));
  });
});
