/**
 * An extension reads its GUCs as C code reads its GUC variables: each backend has its own copy,
 * so a SET (or SET LOCAL, or RESET) in a session changes what a hook running in that session
 * sees, and nothing else; during authentication and in the postmaster the server's value
 * holds. credcheck's password policy depends on it (`SET credcheck.password_min_length = 12;
 * CREATE ROLE ...`), and the extension differential compares exactly that with the C original.
 */
import { expect } from 'chai';
import { TestCluster } from '../../src/testing/index.js';
import type { ExtensionContext, ExtensionModule } from '../../src/extensions/extension.js';

/** Records what `demo.level` (int), `demo.flag` (bool) and `demo.word` (string) read as, at each check_password_hook call. */
function recorder(seen: Array<[number, boolean, string, string]>, atAuth: number[]): ExtensionModule {
  return {
    name: 'demo',
    _PG_init(ctx: ExtensionContext) {
      ctx.gucs.defineCustomIntVariable('demo.level', { boot: 1, min: 0, max: 100, context: 'superuser' });
      ctx.gucs.defineCustomBoolVariable('demo.flag', { boot: false, context: 'superuser' });
      ctx.gucs.defineCustomStringVariable('demo.word', { boot: 'boot', context: 'superuser' });
      ctx.hooks.check_password_hook = () => {
        seen.push([ctx.gucs.getNumber('demo.level'), ctx.gucs.getBool('demo.flag'), ctx.gucs.getString('demo.word'), ctx.gucs.show('demo.level')]);
      };
      const prev = ctx.hooks.ClientAuthentication_hook;
      ctx.hooks.ClientAuthentication_hook = async (port, status) => {
        if (prev) await prev(port, status);
        atAuth.push(ctx.gucs.getNumber('demo.level'));
      };
    },
  };
}

describe('extension GUCs as a backend sees them', () => {
  let cluster: TestCluster;
  const seen: Array<[number, boolean, string, string]> = [];
  const atAuth: number[] = [];
  const as = { user: 'admin', password: 'pw' };

  before(async () => {
    cluster = await TestCluster.start({
      postgresqlConf: { 'demo.level': 7 },
      hba: 'host all all 127.0.0.1/32 scram-sha-256',
      roles: "CREATE ROLE admin SUPERUSER LOGIN PASSWORD 'pw';",
      extensions: [recorder(seen, atAuth)],
    });
  });
  after(() => cluster.close());
  beforeEach(() => { seen.length = 0; atAuth.length = 0; });

  it('reads the server\'s value in a session that set nothing', async () => {
    await cluster.query("CREATE ROLE r1 PASSWORD 'x'", as);
    expect(seen).to.deep.equal([[7, false, 'boot', '7']]);
  });

  it('reads the session\'s SET values, typed, in a hook the same session runs', async () => {
    await cluster.query("SET demo.level = 42; SET demo.flag = on; SET demo.word = 'set'; CREATE ROLE r2 PASSWORD 'x'", as);
    expect(seen).to.deep.equal([[42, true, 'set', '42']]);
  });

  it('reads SET LOCAL inside the transaction and RESET after it', async () => {
    await cluster.query("BEGIN; SET LOCAL demo.level = 3; CREATE ROLE r3 PASSWORD 'x'; COMMIT; SET demo.level = 9; RESET demo.level; CREATE ROLE r4 PASSWORD 'x'", as);
    expect(seen).to.deep.equal([[3, false, 'boot', '3'], [7, false, 'boot', '7']]);
  });

  it('keeps one session\'s SET from another session and from authentication', async () => {
    await cluster.query('SET demo.level = 50', as);
    await cluster.query("CREATE ROLE r5 PASSWORD 'x'", as);
    expect(seen).to.deep.equal([[7, false, 'boot', '7']]);
    expect(atAuth).to.deep.equal([7, 7]);
  });
});
