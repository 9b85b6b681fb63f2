/**
 * The conformance kit's whole default grid (src/conformance/scenarios.ts:
 * ssl on/off; host, hostssl, hostnossl, reject and no-match lines; trust,
 * password, md5, scram-sha-256; an md5 secret under a scram line; a missing
 * role; right/wrong/no password; every sslmode; sslnegotiation=direct) run on
 * real PostgreSQL 15, 16, 17 and 18 and on the simulator set to the same
 * major, with real psql (each version's libpq) and psycopg. Every case must
 * agree in every observed field. `npm run conformance` prints the same report.
 */
import { expect } from 'chai';
import { runConformance } from '../../src/conformance/runner.js';
import { renderReport, differencesTable, type ConformanceReport } from '../../src/conformance/compare.js';
import { renderTable } from '../../src/views/table.js';
import { PG_MAJORS } from '../../src/conformance/probe.js';

describe('conformance: real PostgreSQL 15–18 vs pg-authsim on the default grid', function () {
  this.timeout(15 * 60 * 1000);
  let report: ConformanceReport;

  before(async () => {
    report = await runConformance({});
    process.stdout.write(`\n${renderReport(report, 'table')}\n`);
  });

  for (const major of PG_MAJORS) {
    it(`PostgreSQL ${major}: every case ran on both sides and agrees`, () => {
      const v = report.versions.find((s) => s.major === major)!;
      expect(v, `a summary for ${major}`).to.not.equal(undefined);
      expect(v.cases, 'cases').to.be.at.least(200);
      const diffs = differencesTable({ ...report, results: report.results.filter((r) => r.major === major) });
      expect({ differing: v.differing, errors: v.errors, skipped: v.skipped }, renderTable(diffs, 'table')).to.deep.equal({ differing: 0, errors: 0, skipped: 0 });
      expect(v.agreeing).to.equal(v.cases);
    });
  }
});
