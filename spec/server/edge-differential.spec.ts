/**
 * Differential check: every edge-case script runs against a throwaway real
 * PostgreSQL 15 (over TCP) and against pg-authsim (in memory), and the two
 * must agree on every message, every ErrorResponse field (F/L/R included),
 * every server log line and every ClientAuthentication_hook call
 * (hook_probe on the real side). The real server must also match the
 * documented expectation in the tables.
 *
 * The sim gets the real cluster's role secrets and mock authentication
 * nonce, so SCRAM salts (real and mock) must match as well.
 */
import { expect } from 'chai';
import * as net from 'node:net';
import { STARTUP_CASES } from './edge-startup-cases.js';
import { AUTH_CASES } from './edge-auth-cases.js';
import { SESSION_CASES } from './edge-session-cases.js';
import { BYTES_CASES } from './edge-bytes-cases.js';
import {
  AUTH_TIMEOUT_MS, EXTRA_DATABASES, HBA, LIMITED_DATABASE, HBA_PATH, REAL_SETTINGS, ROLES_SQL,
  expectSameObservation, expectedObservation, observation, serverRunsTls, simHarness, type EdgeCase, type Observation, type SimHarness,
} from './edge-env.js';
import { RealPg } from '../support/real-pg.js';
import { runScript, sslRequest, type Step, type Target } from '../support/wire-script.js';

const ALL = [...STARTUP_CASES, ...AUTH_CASES, ...SESSION_CASES, ...BYTES_CASES];
const compared = ALL.filter((c) => !c.simOnly);

describe(`edge cases: real PostgreSQL 15 vs pg-authsim (${compared.length} raw-wire scripts)`, function () {
  this.timeout(120_000);
  let pg: RealPg;
  const sims = new Map<boolean, SimHarness>();

  before(async () => {
    pg = await RealPg.start({
      hba: HBA,
      setupSql: `${ROLES_SQL}\n${EXTRA_DATABASES.map((d) => `CREATE DATABASE ${d};`).join('\n')}\nCREATE DATABASE ${LIMITED_DATABASE} CONNECTION LIMIT 1;\n`,
      settings: REAL_SETTINGS,
      ssl: true,
    });
    // The sim gets the same secrets and mock nonce, so every SCRAM salt must come out the same.
    const secrets = await pg.sql(`SELECT format('ALTER ROLE %I PASSWORD %L;', rolname, rolpassword) FROM pg_authid WHERE rolpassword IS NOT NULL AND rolname <> 'boot'`);
    const nonce = await pg.mockAuthNonce();
    for (const ssl of [true, false]) {
      sims.set(ssl, simHarness({ ssl, roles: `${ROLES_SQL}\n${secrets}`, settings: { mockAuthNonce: nonce } }));
    }
  });

  after(async () => {
    for (const s of sims.values()) await s.server.close();
    await pg?.stop();
  });

  const realTarget = (): Target => ({
    open: async () => {
      const s = net.connect({ host: '127.0.0.1', port: pg.port });
      await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
      s.setNoDelay(true);
      return s;
    },
    // The real server's own timer: wait for it to hang up.
    stall: (conn) => conn.untilClosed(AUTH_TIMEOUT_MS + 3000),
    patienceMs: 3000,
  });

  async function runReal(script: readonly Step[]): Promise<Observation> {
    const offset = pg.logOffset();
    const t = await runScript(realTarget(), script);
    await pg.settle();
    // Byte for byte: the log shows each byte as one char, like the transcript (wire-script.ts).
    const lines = pg.logSince(offset, 'latin1').map((l) => l.text.replaceAll(pg.hbaPath, HBA_PATH));
    return observation(t, lines);
  }

  /** What an SSLRequest is answered with right now. */
  async function sslAnswer(): Promise<string | null> {
    const s = await realTarget().open();
    return new Promise((resolve) => {
      s.once('data', (d: Buffer) => { s.destroy(); resolve(String.fromCharCode(d[0]!)); });
      s.once('close', () => resolve(null));
      s.write(sslRequest());
    });
  }

  it('hook_probe is built and loaded, so hook calls are compared too (needs postgresql-server-dev-15)', () => {
    expect(pg.hookProbe).to.equal(true);
  });

  const groups: Array<[boolean, EdgeCase[]]> = [[true, compared.filter((c) => c.ssl !== false)], [false, compared.filter((c) => c.ssl === false)]];
  for (const [ssl, cases] of groups) {
    describe(`ssl=${ssl ? 'on' : 'off'}`, () => {
      before(async () => { await pg.setSsl(ssl, sslAnswer); });

      for (const c of cases) {
        it(c.name, async () => {
          const real = await runReal(c.script);
          const sim = await sims.get(ssl)!.run(c.script, { tcp: serverRunsTls(c) });
          const hooks = pg.hookProbe ? {} : { hooks: sim.hooks };
          // The table first: if PostgreSQL itself disagrees with it, the table is what needs fixing.
          expectSameObservation({ ...real, ...hooks }, expectedObservation(c), 'real PostgreSQL 15 vs the documented expectation');
          expectSameObservation(sim, { ...real, ...hooks }, 'pg-authsim vs real PostgreSQL 15');
          expect(sim.scramSalts, 'SCRAM salts (same secrets, same mock nonce)').to.deep.equal(real.scramSalts);
        });
      }
    });
  }
});
