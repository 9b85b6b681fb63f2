import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { TestCluster } from '../../src/testing/index.js';
import { encodeFrontend } from '../../src/wire/codec.js';
import { loadParser, parseSql } from '../../src/sql/parser.js';
import { WireClient, type Received } from '../support/wire-client.js';
import { startupMessage } from '../support/raw-login.js';

const run = promisify(execFile);
const ROLES = "CREATE ROLE test LOGIN PASSWORD 'secret';";

describe('the session after AuthenticationOk', () => {
  let cluster: TestCluster;
  afterEach(() => cluster?.close());

  async function session(): Promise<{ c: WireClient; q: (sql: string) => Promise<Received[]> }> {
    cluster = await TestCluster.start({ hba: 'host all all 127.0.0.1/32 trust', roles: ROLES });
    const c = WireClient.memory(cluster.server);
    c.send(startupMessage('test'));
    await c.until('readyForQuery');
    return { c, q: (sql) => { c.send(encodeFrontend({ type: 'Query', sql })); return c.until('readyForQuery'); } };
  }
  const summary = (msgs: Received[]) => msgs.map((m) => (m.name === 'commandComplete' ? `C ${m.text}` : m.name === 'readyForQuery' ? `Z ${m.status}` : m.name === 'error' ? `E ${m.code}` : m.name === 'dataRow' ? `D ${(m.fields as string[]).join(',')}` : m.name));

  const table: Array<[string, string[]]> = [
    ['SELECT 1', ['rowDescription', 'D 1', 'C SELECT 1', 'Z I']],
    ['BEGIN', ['C BEGIN', 'Z T']],
    ['BEGIN; SELECT current_user; COMMIT', ['C BEGIN', 'rowDescription', 'D test', 'C SELECT 1', 'C COMMIT', 'Z I']],
    ['SET extra_float_digits = 3', ['C SET', 'Z I']],
    ["SET application_name TO 'x;y'", ['C SET', 'parameterStatus', 'Z I']],
    ['', ['emptyQuery', 'Z I']],
    // PostgreSQL parses the whole string first: a syntax error anywhere runs nothing.
    ['SELECT 1; frobnicate; SELECT 1', ['E 42601', 'Z I']],
    ['SELECT 1; SELECT nosuch(); SELECT 1', ['rowDescription', 'D 1', 'C SELECT 1', 'E 42883', 'Z I']],
  ];
  for (const [sql, expected] of table) {
    it(`${JSON.stringify(sql)} → ${expected.join(' ')}`, async () => {
      const { c, q } = await session();
      expect(summary(await q(sql))).to.deep.equal(expected);
      c.end();
    });
  }

  it('an error inside a transaction block fails it until ROLLBACK (25P02), and COMMIT then reports ROLLBACK', async () => {
    const { c, q } = await session();
    expect(summary(await q('BEGIN'))).to.deep.equal(['C BEGIN', 'Z T']);
    expect(summary(await q('frobnicate'))).to.deep.equal(['E 42601', 'Z E']);
    expect(summary(await q('SELECT 1'))).to.deep.equal(['E 25P02', 'Z E']);
    expect(summary(await q('COMMIT'))).to.deep.equal(['C ROLLBACK', 'Z I']);
    c.end();
  });

  it('splits statements with the grammar: semicolons inside quotes stay, empty statements vanish', async () => {
    await loadParser();
    expect(parseSql("SET a.b = 'x;y'; SELECT 1;;").map((s) => s.text)).to.deep.equal(["SET a.b = 'x;y'", 'SELECT 1']);
  });

  it('psycopg 3 (real, over TCP) connects, runs a query in its implicit transaction and commits', async function () {
    this.timeout(20000);
    cluster = await TestCluster.start({ clock: 'real', hba: 'host all all 127.0.0.1/32 scram-sha-256', roles: ROLES });
    const port = await cluster.listen();
    const script = `
import psycopg
with psycopg.connect("host=127.0.0.1 port=${port} user=test password=secret dbname=postgres sslmode=disable") as conn:
    print(conn.execute("SELECT current_user").fetchone()[0])
    conn.commit()
    print(conn.info.transaction_status.name)
`;
    const { stdout } = await run('python3', ['-c', script]);
    expect(stdout.trim().split('\n')).to.deep.equal(['test', 'IDLE']);
  });
});
