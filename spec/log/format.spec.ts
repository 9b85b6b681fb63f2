import { expect } from 'chai';
import type { Clock, TimerHandle } from '../../src/clock.js';
import { PgError } from '../../src/errors.js';
import {
  ProcessLogger, appendWithTabs, disconnectionMessage, formatLogRecord, severityLabel, type LogSeverity,
} from '../../src/log/index.js';

class FixedClock implements Clock {
  constructor(public t: number) {}
  now(): number { return this.t; }
  sleep(): Promise<void> { return Promise.resolve(); }
  setTimer(): TimerHandle { return { cancel() {} }; }
}

describe('log/format', () => {
  describe('formatLogRecord', () => {
    it('writes the message line with two blanks after the severity', () => {
      expect(formatLogRecord('P ', { severity: 'LOG', message: 'connection received: host=[local]' }))
        .to.equal('P LOG:  connection received: host=[local]\n');
    });

    it('prefixes every line and tab-indents a multi-line DETAIL (observed md5 failure)', () => {
      const text = formatLogRecord('2026-11-26 11:54:50.614 UTC [9889] bob@postgres ', {
        severity: 'FATAL',
        message: 'password authentication failed for user "bob"',
        detailLog: 'Password does not match for user "bob".\nConnection matched pg_hba.conf line 4: "host all bob 127.0.0.1/32 md5"',
      });
      expect(text).to.equal(
        '2026-11-26 11:54:50.614 UTC [9889] bob@postgres FATAL:  password authentication failed for user "bob"\n' +
        '2026-11-26 11:54:50.614 UTC [9889] bob@postgres DETAIL:  Password does not match for user "bob".\n' +
        '\tConnection matched pg_hba.conf line 4: "host all bob 127.0.0.1/32 md5"\n');
    });

    it('orders DETAIL, HINT, QUERY, CONTEXT, then STATEMENT', () => {
      const text = formatLogRecord('> ', {
        severity: 'ERROR', message: 'm', detail: 'd', hint: 'h', internalQuery: 'q', context: 'c', statement: 's',
      });
      expect(text).to.equal('> ERROR:  m\n> DETAIL:  d\n> HINT:  h\n> QUERY:  q\n> CONTEXT:  c\n> STATEMENT:  s\n');
    });

    it('prefers the log-only detail over the client detail', () => {
      expect(formatLogRecord('', { severity: 'FATAL', message: 'm', detail: 'client', detailLog: 'server' }))
        .to.equal('FATAL:  m\nDETAIL:  server\n');
    });

    it('tab-indents continuation lines of every field', () => {
      expect(formatLogRecord('', { severity: 'LOG', message: 'a\nb', hint: 'c\nd', context: 'e\nf' }))
        .to.equal('LOG:  a\n\tb\nHINT:  c\n\td\nCONTEXT:  e\n\tf\n');
    });

    it('appends the cursor position', () => {
      expect(formatLogRecord('', { severity: 'ERROR', message: 'syntax error at or near "x"', position: 8 }))
        .to.equal('ERROR:  syntax error at or near "x" at character 8\n');
    });

    it('terse verbosity drops DETAIL/HINT/CONTEXT but keeps STATEMENT', () => {
      expect(formatLogRecord('', { severity: 'ERROR', message: 'm', detail: 'd', hint: 'h', context: 'c', statement: 's' }, { verbosity: 'terse' }))
        .to.equal('ERROR:  m\nSTATEMENT:  s\n');
    });

    it('verbose verbosity adds the SQLSTATE and LOCATION', () => {
      const e = new PgError({
        severity: 'FATAL', sqlstate: '28P01', message: 'password authentication failed for user "bob"',
        file: 'auth.c', line: 334, routine: 'auth_failed',
      });
      expect(formatLogRecord('', e.fields, { verbosity: 'verbose' })).to.equal(
        'FATAL:  28P01: password authentication failed for user "bob"\nLOCATION:  auth_failed, auth.c:334\n');
      expect(formatLogRecord('', { severity: 'LOG', message: 'm', file: 'x.c', line: 1 }, { verbosity: 'verbose' }))
        .to.equal('LOG:  00000: m\nLOCATION:  x.c:1\n');
    });

    it('asks a prefix function once per line, in order', () => {
      const seen: number[] = [];
      const text = formatLogRecord((i) => { seen.push(i); return `[${i}] `; }, { severity: 'LOG', message: 'm', detail: 'd', hint: 'h' });
      expect(seen).to.deep.equal([0, 1, 2]);
      expect(text).to.equal('[0] LOG:  m\n[1] DETAIL:  d\n[2] HINT:  h\n');
    });

    describe('severity words', () => {
      const cases: Array<[LogSeverity, string]> = [
        ['DEBUG1', 'DEBUG'], ['DEBUG5', 'DEBUG'], ['LOG', 'LOG'], ['LOG_SERVER_ONLY', 'LOG'], ['COMMERROR', 'LOG'],
        ['INFO', 'INFO'], ['NOTICE', 'NOTICE'], ['WARNING', 'WARNING'], ['ERROR', 'ERROR'], ['FATAL', 'FATAL'], ['PANIC', 'PANIC'],
      ];
      for (const [s, word] of cases) it(`${s} -> ${word}`, () => expect(severityLabel(s)).to.equal(word));
    });

    it('appendWithTabs', () => {
      expect(appendWithTabs('a\nb\n')).to.equal('a\n\tb\n\t');
    });
  });

  describe('ProcessLogger', () => {
    function logger(clock: FixedClock, prefix = '%m [%p] %l %e %q%u@%d ') {
      return new ProcessLogger({
        logLinePrefix: prefix, clock,
        context: {
          pid: 9889, sessionStart: clock.t, backendType: 'not initialized', isSessionProcess: true,
          remoteHost: '127.0.0.1', remotePort: 51736,
        },
      });
    }

    it('numbers every prefixed line and stamps all lines of a message alike', () => {
      const clock = new FixedClock(Date.UTC(2026, 10, 26, 11, 54, 50, 611));
      const log = logger(clock);
      log.log({ severity: 'LOG', message: 'connection received: host=127.0.0.1 port=51736' });
      clock.t += 3;
      log.update({ user: 'bob', database: 'postgres', backendType: 'client backend' });
      log.log(new PgError({
        severity: 'FATAL', sqlstate: '28P01', message: 'password authentication failed for user "bob"',
        detailLog: 'Password does not match for user "bob".\nConnection matched pg_hba.conf line 4: "host all bob 127.0.0.1/32 md5"',
      }).fields);
      expect(log.output.join('')).to.equal(
        '2026-11-26 11:54:50.611 UTC [9889] 1 00000 [unknown]@[unknown] LOG:  connection received: host=127.0.0.1 port=51736\n' +
        '2026-11-26 11:54:50.614 UTC [9889] 2 28P01 bob@postgres FATAL:  password authentication failed for user "bob"\n' +
        '2026-11-26 11:54:50.614 UTC [9889] 3 28P01 bob@postgres DETAIL:  Password does not match for user "bob".\n' +
        '\tConnection matched pg_hba.conf line 4: "host all bob 127.0.0.1/32 md5"\n');
    });

    it('fills in ereport\'s default SQLSTATEs for %e', () => {
      const log = logger(new FixedClock(0), '%e ');
      log.log({ severity: 'WARNING', message: 'w' });
      log.log({ severity: 'ERROR', message: 'e' });
      log.log({ severity: 'LOG', message: 'l' });
      expect(log.output).to.deep.equal(['01000 WARNING:  w\n', 'XX000 ERROR:  e\n', '00000 LOG:  l\n']);
    });

    it('restarts %l for a new process and hands text to a writer', () => {
      const written: string[] = [];
      const log = new ProcessLogger({
        logLinePrefix: '%l ', clock: new FixedClock(0), write: (t) => written.push(t),
        context: { pid: 1, sessionStart: 0, backendType: 'postmaster', isSessionProcess: false },
      });
      log.log({ severity: 'LOG', message: 'a' });
      log.log({ severity: 'LOG', message: 'b' });
      log.update({ pid: 2 });
      log.log({ severity: 'LOG', message: 'c' });
      expect(written).to.deep.equal(['1 LOG:  a\n', '2 LOG:  b\n', '1 LOG:  c\n']);
      expect(log.output).to.deep.equal([]);
    });

    it('honours log_error_verbosity', () => {
      const log = logger(new FixedClock(0), '');
      log.verbosity = 'terse';
      log.log({ severity: 'FATAL', message: 'm', detail: 'd' });
      expect(log.output).to.deep.equal(['FATAL:  m\n']);
    });
  });

  describe('disconnectionMessage (log_disconnections)', () => {
    const cases: Array<[Parameters<typeof disconnectionMessage>[0], string]> = [
      [{ sessionMs: 14.9, user: 'alice', database: 'postgres', remoteHost: '127.0.0.1', remotePort: 51752 },
        'disconnection: session time: 0:00:00.014 user=alice database=postgres host=127.0.0.1 port=51752'],
      [{ sessionMs: 2, user: 'postgres', database: 'postgres', remoteHost: '[local]', remotePort: '' },
        'disconnection: session time: 0:00:00.002 user=postgres database=postgres host=[local]'],
      [{ sessionMs: 3723004, user: 'u', database: 'd', remoteHost: '::1', remotePort: '5' },
        'disconnection: session time: 1:02:03.004 user=u database=d host=::1 port=5'],
    ];
    for (const [args, text] of cases) it(text, () => expect(disconnectionMessage(args)).to.equal(text));
  });
});
