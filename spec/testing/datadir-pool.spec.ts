/**
 * What makes one hook author's test cheap without changing what it sees: TestCluster's data
 * directories are reused (files rewritten only where they changed, strays removed), and SCRAM's
 * salted password is derived once per (password, salt, iterations).
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { TestCluster } from '../../src/testing/index.js';
import { scramSaltedPassword, scramSaltedPasswordCached } from '../../src/common/scram-common.js';

const BASE = { hba: 'host all all 127.0.0.1/32 trust', roles: 'CREATE ROLE test LOGIN;' };

describe('TestCluster data directories', () => {
  it("one after another: the same directory, holding exactly the new cluster's files", async () => {
    const a = await TestCluster.start({ ...BASE, postgresqlConf: { port: 5001 } });
    const dir = a.dataDirectory;
    writeFileSync(path.join(dir, 'left-behind'), 'x');
    // A test that edits a file in place (before a reload, say) leaves it for the pool to restore.
    writeFileSync(path.join(dir, 'roles.sql'), 'CREATE ROLE someone_else LOGIN;\n');
    await a.close();
    const b = await TestCluster.start({ ...BASE, postgresqlConf: { port: 5002 }, hba: 'host all all 127.0.0.1/32 reject' });
    try {
      expect(b.dataDirectory).to.equal(dir);
      expect(readdirSync(dir).sort()).to.deep.equal(['pg_hba.conf', 'postgresql.conf', 'roles.sql']);
      expect(readFileSync(path.join(dir, 'pg_hba.conf'), 'utf8')).to.equal('host all all 127.0.0.1/32 reject\n');
      expect(readFileSync(path.join(dir, 'postgresql.conf'), 'utf8')).to.equal('port = 5002\n');
      expect(readFileSync(path.join(dir, 'roles.sql'), 'utf8')).to.equal('CREATE ROLE test LOGIN;');
      expect(b.server.gucs.show('port')).to.equal('5002');
    } finally {
      await b.close();
    }
  });

  it('at the same time: a directory each; extra files get a directory of their own, removed at close', async () => {
    const a = await TestCluster.start(BASE);
    const b = await TestCluster.start(BASE);
    const c = await TestCluster.start({ ...BASE, files: { 'extra.txt': 'hello' } });
    try {
      expect(new Set([a.dataDirectory, b.dataDirectory, c.dataDirectory]).size).to.equal(3);
      expect(readFileSync(path.join(c.dataDirectory, 'extra.txt'), 'utf8')).to.equal('hello');
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
    expect(existsSync(c.dataDirectory)).to.equal(false);
  });
});

describe('scramSaltedPasswordCached', () => {
  it('gives what PBKDF2 gives, once per (password, salt, iterations)', () => {
    const pw = Buffer.from('secret');
    const salt = Buffer.from('0123456789abcdef');
    const first = scramSaltedPasswordCached(pw, salt, 4096);
    expect(first.equals(scramSaltedPassword(pw, salt, 4096))).to.equal(true);
    expect(scramSaltedPasswordCached(pw, salt, 4096)).to.equal(first);
    expect(scramSaltedPasswordCached(pw, salt, 4097).equals(first)).to.equal(false);
    expect(scramSaltedPasswordCached(pw, Buffer.from('0123456789abcdee'), 4096).equals(first)).to.equal(false);
    expect(scramSaltedPasswordCached(Buffer.from('secreT'), salt, 4096).equals(first)).to.equal(false);
  });
});
