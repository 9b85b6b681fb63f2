/**
 * pg-authsim against the edge-case tables: every script runs over the
 * in-memory transport on a virtual clock, and what the client received,
 * the ErrorResponse fields, the server log and the hook calls must be
 * exactly what PostgreSQL 15.20 does (edge-differential.spec.ts checks the
 * tables themselves against a real server).
 */
import { expect } from 'chai';
import { STARTUP_CASES } from './edge-startup-cases.js';
import { AUTH_CASES } from './edge-auth-cases.js';
import { SESSION_CASES } from './edge-session-cases.js';
import { BYTES_CASES } from './edge-bytes-cases.js';
import { expectSameObservation, expectedObservation, serverRunsTls, simHarness, type EdgeCase, type SimHarness } from './edge-env.js';
import { closed, connect, read, send, startup, terminate, type Step } from '../support/wire-script.js';
import type { EventOf } from '../../src/events.js';

const TABLES: Array<[string, EdgeCase[]]> = [
  ['startup packet, SSL/GSS negotiation, CancelRequest', STARTUP_CASES],
  ['password, md5 and SCRAM exchanges, hba rejects, authentication_timeout', AUTH_CASES],
  ['connection slots and checks after AuthenticationOk', SESSION_CASES],
  ['client bytes: names, passwords and parameters that are not (or not only) ASCII', BYTES_CASES],
];

describe('edge cases against pg-authsim (raw wire, in memory, virtual clock)', () => {
  const harnesses = new Map<boolean, SimHarness>();
  const sim = (ssl: boolean) => {
    let h = harnesses.get(ssl);
    if (!h) { h = simHarness({ ssl }); harnesses.set(ssl, h); }
    return h;
  };
  after(async () => { for (const h of harnesses.values()) await h.server.close(); });

  it('the case names are unique (they name the differential results too)', () => {
    const names = TABLES.flatMap(([, cases]) => cases.map((c) => c.name));
    expect(new Set(names).size).to.equal(names.length);
  });

  for (const [title, cases] of TABLES) {
    describe(title, () => {
      for (const c of cases) {
        it(`${c.name}${c.ssl === false ? ' [ssl=off]' : ''}`, async () => {
          const got = await sim(c.ssl ?? true).run(c.script, { tcp: serverRunsTls(c) });
          expectSameObservation(got, expectedObservation(c), 'pg-authsim');
        });
      }
    });
  }

  describe('what the tables cannot show', () => {
    const session: Step[] = [send(startup({ user: 'test', database: 'trustdb' })), read('ReadyForQuery')];

    for (const [key, result] of [['right', 'signalled'], ['wrong', 'wrong-key']] as const) {
      it(`CancelRequest with the ${key} key reaches the target backend as "${result}"`, async () => {
        const h = sim(true);
        await h.run([...session, connect(1), { op: 'cancel', c: 1, target: 0, key }, closed(1), send(terminate()), closed()]);
        const cancels = h.events.filter((e): e is EventOf<'cancel-request'> => e.type === 'cancel-request');
        const target = h.events.find((e): e is EventOf<'session-started'> => e.type === 'session-started');
        expect(cancels.map((e) => [e.result, e.targetPid])).to.deep.equal([[result, target?.pid]]);
      });
    }

    it('authentication_timeout counts from the start of authentication, not from the connection', async () => {
      const h = sim(true);
      const c = h.server.connect('127.0.0.1');
      const got: Buffer[] = [];
      c.on('data', (d: Buffer) => got.push(d));
      // Most of the startup window passes before the startup packet arrives ...
      await h.clock.advance(900);
      c.write(startup({ user: 'test', database: 'scramdb' }));
      for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
      // ... and the backend is still waiting for SASLInitialResponse well after the first window would have ended.
      await h.clock.advance(900);
      expect(h.server.backends().map((b) => b.phase.name)).to.deep.equal(['authentication']);
      await h.clock.advance(100);
      await h.server.idle();
      expect(h.events.filter((e) => e.type === 'error').map((e) => e.type === 'error' && e.error.sqlstate)).to.deep.equal(['57014']);
      expect(Buffer.concat(got).subarray(0, 1).toString()).to.equal('R');
    });
  });
});
