import { expect } from 'chai';
import { lookupTimeZone, renderLogLinePrefix, type LogLineContext } from '../../src/log/index.js';

/** 2026-11-26 11:54:56.996 UTC, the instant of an observed PG 15 log line. */
const NOW = Date.UTC(2026, 10, 26, 11, 54, 56, 996);

function backend(over: Partial<LogLineContext> = {}): LogLineContext {
  return {
    pid: 9971, sessionStart: Date.UTC(2026, 10, 26, 11, 54, 56, 990), now: NOW, backendType: 'client backend',
    lineNumber: 1, isSessionProcess: true, user: 'bob', database: 'postgres', remoteHost: '127.0.0.1', remotePort: 51766,
    ...over,
  };
}

const postmaster: LogLineContext = {
  pid: 9874, sessionStart: Date.UTC(2026, 10, 26, 11, 54, 50, 370), now: Date.UTC(2026, 10, 26, 11, 54, 57, 401),
  backendType: 'postmaster', lineNumber: 7, isSessionProcess: false,
};

describe('log/log-line-prefix: renderLogLinePrefix', () => {
  describe('each escape', () => {
    const cases: Array<[string, Partial<LogLineContext>, string]> = [
      ['%a', { applicationName: 'psql' }, 'psql'],
      ['%a', { applicationName: '' }, '[unknown]'],
      ['%u', {}, 'bob'],
      ['%u', { user: null }, '[unknown]'],
      ['%d', { database: '' }, '[unknown]'],
      ['%r', {}, '127.0.0.1(51766)'],
      ['%r', { remoteHost: '[local]', remotePort: '' }, '[local]'],
      ['%r', { remoteHost: null }, ''],
      ['%h', {}, '127.0.0.1'],
      ['%b', {}, 'client backend'],
      ['%b', { backendType: 'not initialized' }, 'not initialized'],
      ['%p', {}, '9971'],
      ['%P', {}, ''],
      ['%P', { parallelLeaderPid: 4242 }, '4242'],
      ['%t', {}, '2026-11-26 11:54:56 UTC'],
      ['%m', {}, '2026-11-26 11:54:56.996 UTC'],
      ['%m', { now: NOW + 0.9 }, '2026-11-26 11:54:56.996 UTC'], // milliseconds truncate
      ['%n', {}, '1795694096.996'],
      ['%i', {}, ''],
      ['%i', { psDisplay: 'authentication' }, 'authentication'],
      ['%e', {}, '00000'],
      ['%e', { sqlstate: '28P01' }, '28P01'],
      ['%c', {}, '6b081e10.26f3'],
      ['%l', { lineNumber: 12 }, '12'],
      ['%s', {}, '2026-11-26 11:54:56 UTC'],
      ['%v', {}, ''],
      ['%v', { backendId: 3, localTransactionId: 10 }, '3/10'],
      ['%x', {}, '0'],
      ['%x', { transactionId: 725 }, '725'],
      ['%Q', {}, '0'],
      ['%%', {}, '%'],
      ['%z', {}, ''], // unknown escapes print nothing
      ['%q', {}, ''],
      ['a%', {}, 'a'], // a trailing % is dropped
      ['%-', {}, ''], // so is a trailing padding sign
      ['x%5', {}, 'x'], // and a format that ends in its padding
      ['% u', {}, 'u'], // "% " is an unknown escape; the u is literal
      ['100%%', {}, '100%'],
    ];
    for (const [format, over, out] of cases) {
      it(`${JSON.stringify(format)} ${JSON.stringify(over)} -> ${JSON.stringify(out)}`, () => {
        expect(renderLogLinePrefix(format, backend(over))).to.equal(out);
      });
    }
  });

  describe('padding', () => {
    const cases: Array<[string, Partial<LogLineContext>, string]> = [
      ['%-10u|', {}, 'bob       |'],
      ['%10u|', {}, '       bob|'],
      ['%10p|', {}, '      9971|'],
      ['%-6p|', {}, '9971  |'],
      ['%2p|', {}, '9971|'], // never truncates
      ['%8h|', {}, '127.0.0.1|'],
      ['%-20r|', {}, '127.0.0.1(51766)    |'],
      ['%20r|', {}, '    127.0.0.1(51766)|'],
      ['%5a|', {}, '[unknown]|'],
      ['%6v|', { backendId: 3, localTransactionId: 10 }, '  3/10|'],
      ['%6v|', {}, '      |'],
      ['%4P|', {}, '    |'],
      ['%-4P|', {}, '    |'],
      ['%8h|', { remoteHost: '[local]', remotePort: '' }, ' [local]|'],
      ['%-7u|', { user: 'héllo' }, 'héllo |'], // widths count bytes, as printf does
      ['%05p|', {}, ' 9971|'], // a leading zero is just part of the number
    ];
    for (const [format, over, out] of cases) {
      it(`${JSON.stringify(format)} -> ${JSON.stringify(out)}`, () => {
        expect(renderLogLinePrefix(format, backend(over))).to.equal(out);
      });
    }
  });

  describe('processes without a client (the postmaster)', () => {
    it('stops at %q', () => {
      expect(renderLogLinePrefix('%m [%p] %q%u@%d ', postmaster)).to.equal('2026-11-26 11:54:57.401 UTC [9874] ');
    });
    it('leaves session escapes empty, or spaces when padded', () => {
      expect(renderLogLinePrefix('[%a|%u|%d|%r|%h|%i|%5u|%-3d|%4r|%2h|%3a|%2i]', postmaster))
        .to.equal('[||||||     |   |    |  |   |  ]');
    });
  });

  describe('observed PG 15 log lines, rebuilt', () => {
    const prefix = '<a=%a|u=%u|d=%d|r=%r|h=%h|b=%b|p=%p|P=%P|t=%t|n=%n|i=%i|e=%e|c=%c|l=%l|s=%s|v=%v|x=%x|' +
      'U=%-10u|p10=%10p|pct=%%|z=%z|Q=%Q|h8=%8h|r20=%-20r|a5=%5a|v6=%6v|P4=%4P|q=%q|after>';

    it('a backend before its startup packet (connection received)', () => {
      const ctx = backend({ user: null, database: null, backendType: 'not initialized' });
      expect(renderLogLinePrefix(prefix, ctx)).to.equal(
        '<a=[unknown]|u=[unknown]|d=[unknown]|r=127.0.0.1(51766)|h=127.0.0.1|b=not initialized|p=9971|P=|' +
        't=2026-11-26 11:54:56 UTC|n=1795694096.996|i=|e=00000|c=6b081e10.26f3|l=1|s=2026-11-26 11:54:56 UTC|' +
        'v=|x=0|U=[unknown] |p10=      9971|pct=%|z=|Q=0|h8=127.0.0.1|r20=127.0.0.1(51766)    |a5=[unknown]|' +
        'v6=      |P4=    |q=|after>');
    });

    it('the same backend failing authentication', () => {
      const ctx = backend({
        now: NOW + 2, psDisplay: 'authentication', sqlstate: '28P01', lineNumber: 2, backendId: 3, localTransactionId: 10,
      });
      expect(renderLogLinePrefix(prefix, ctx)).to.equal(
        '<a=[unknown]|u=bob|d=postgres|r=127.0.0.1(51766)|h=127.0.0.1|b=client backend|p=9971|P=|' +
        't=2026-11-26 11:54:56 UTC|n=1795694096.998|i=authentication|e=28P01|c=6b081e10.26f3|l=2|s=2026-11-26 11:54:56 UTC|' +
        'v=3/10|x=0|U=bob       |p10=      9971|pct=%|z=|Q=0|h8=127.0.0.1|r20=127.0.0.1(51766)    |a5=[unknown]|' +
        'v6=  3/10|P4=    |q=|after>');
    });

    it('a Unix-socket backend', () => {
      const ctx = backend({ pid: 9978, remoteHost: '[local]', remotePort: '', user: null, database: null, backendType: 'not initialized' });
      const out = renderLogLinePrefix('r=%r|h=%h|h8=%8h|r20=%-20r|', ctx);
      expect(out).to.equal('r=[local]|h=[local]|h8= [local]|r20=[local]             |');
    });

    it('the postmaster', () => {
      expect(renderLogLinePrefix(prefix, postmaster)).to.equal(
        '<a=|u=|d=|r=|h=|b=postmaster|p=9874|P=|t=2026-11-26 11:54:57 UTC|n=1795694097.401|i=|e=00000|c=6b081e0a.2692|' +
        'l=7|s=2026-11-26 11:54:50 UTC|v=|x=0|U=          |p10=      9874|pct=%|z=|Q=0|h8=        |r20=                    |' +
        'a5=     |v6=      |P4=    |q=');
    });

    it("the default '%m [%p] %q%u@%d ' before and after the user is known", () => {
      const f = '%m [%p] %q%u@%d ';
      expect(renderLogLinePrefix(f, backend({ user: null, database: null, now: Date.UTC(2026, 10, 26, 11, 54, 50, 552) })))
        .to.equal('2026-11-26 11:54:50.552 UTC [9971] [unknown]@[unknown] ');
      expect(renderLogLinePrefix(f, backend({ user: 'alice', now: Date.UTC(2026, 10, 26, 11, 54, 50, 564) })))
        .to.equal('2026-11-26 11:54:50.564 UTC [9971] alice@postgres ');
      // pg-server.md 2.4: a startup packet without a user name
      expect(renderLogLinePrefix(f, backend({ user: '', database: 'postgres' }))).to.match(/ \[unknown\]@postgres $/);
    });
  });

  describe('log_timezone', () => {
    const cases: Array<[string, string]> = [
      ['GMT', '2026-11-26 11:54:56.996 GMT'],
      ['Etc/UTC', '2026-11-26 11:54:56.996 UTC'],
      ['UTC+3', '2026-11-26 08:54:56.996 UTC'], // POSIX: three hours west
      ['+3', '2026-11-26 08:54:56.996 '], // no abbreviation at all (observed with %t)
      ['<+03>-03', '2026-11-26 14:54:56.996 +03'],
      ['Etc/GMT+3', '2026-11-26 08:54:56.996 -03'],
      ['America/New_York', '2026-11-26 06:54:56.996 EST'],
      ['Europe/Berlin', '2026-11-26 12:54:56.996 CET'],
    ];
    for (const [zone, out] of cases) {
      it(`${zone}: ${out}`, () => expect(renderLogLinePrefix('%m', backend({ logTimezone: zone }))).to.equal(out));
    }
  });
});

describe('log/timezone: lookupTimeZone', () => {
  const cases: Array<[string, boolean, string | null]> = [
    ['+3', true, '<+03>-03'],
    ['-8', true, '<-08>+08'],
    ['5.5', true, '<+05:30>-05:30'],
    ['+3', false, '+3'], // log_timezone reads it as POSIX: three hours west (observed)
    ['+03:00', true, '+03:00'], // observed
    ['03:30', true, '03:30'], // observed
    ['+03:00:00:00', true, null],
    ['utc', true, 'UTC'],
    ['etc/utc', true, 'Etc/UTC'],
    ['GMT', true, 'GMT'],
    ['UTC+3', true, 'UTC+3'],
    ['europe/berlin', true, 'Europe/Berlin'],
    ['Foo/Bar', true, null],
    ['', true, null],
  ];
  for (const [value, numeric, name] of cases) {
    it(`${JSON.stringify(value)}${numeric ? '' : ' (log_timezone)'} -> ${name}`, () => {
      expect(lookupTimeZone(value, numeric)?.name ?? null).to.equal(name);
    });
  }
});
