import { expect } from 'chai';
import { SeededRandom } from '../../src/random.js';
import { pgB64Decode } from '../../src/auth/scram-common.js';
import {
  buildScramSecret, encryptPassword, getPasswordType, md5ChallengeResponse, md5ClientResponse, md5CryptVerify,
  md5Secret, parseScramSecret, plainCryptVerify, scramVerifyPlainPassword,
} from '../../src/auth/secrets.js';

/**
 * Secrets read from pg_authid.rolpassword on a throwaway PostgreSQL 15.20 cluster
 * (initdb as the postgres OS user, `CREATE ROLE … PASSWORD …` under each password_encryption).
 */
const PG_SECRETS: { role: string; password: string; secret: string }[] = [
  // pg-server.md §7.5
  { role: 'x', password: 'secret', secret: 'SCRAM-SHA-256$4096:nv73+pGgsWowCanRbB6CdA==$61dfD6JVUIsM6fhIJqIUcWaN+5yMGHXBV1ettCee1W0=:2LR2tWnVTFB4mCAZi09lMe0ze8rceH7ZDzN6YvgLTuM=' },
  { role: 'scram_u', password: 'secret', secret: 'SCRAM-SHA-256$4096:4b2CA6Hw+jrsaFuqlc6RNQ==$wcZXHQL8EgHwu8m4z6EusV47v3pv46IM6seS5Y8mtg4=:yccE3L2olmMzyKuarBC8DWSEfAhKV+/pTBfSdPHdN/o=' },
  { role: 'Weird Name', password: 'secret', secret: 'SCRAM-SHA-256$4096:f13GMzD6+Cka051EPdSy9Q==$0xgGaIQU8VBmmwVz/IwNH33M+QeFUnM0wU8+uUGbv2Q=:CTccUL1cPta5xHdOFk0vGyxhiQwXKpNxHVpDQZDYvXo=' },
  // SASLprep: soft hyphen removed, so this is the secret of "IX"
  { role: 'unicode_u', password: 'I\u00ADX', secret: 'SCRAM-SHA-256$4096:KREvgxXcHTJdqwDarv8u9A==$P36bJxMWpLgX4I+VH/iUlTkkKTkZT9A8ZELrJypyVbc=:A1pFWLismh3Hj6K/x9RUKJ0YkF55Ab9QrPAKvop60mE=' },
  // SASLprep: NFKC turns U+2168 into "IX"
  { role: 'nfkc_u', password: '\u2168', secret: 'SCRAM-SHA-256$4096:0tNPKKv5S+bAIwTbqZoALA==$YGjKXmK4UgUHmTgH7VgRIaxkBIlpQGO3P7XsyZqQjbo=:P5X0YoHuzfyrLVU2wmpVr/ul9ltEZiyp9ey13uRmEnU=' },
  // prohibited (control char with non-ASCII): the raw bytes are hashed
  { role: 'ctrl_u', password: '\u00e9\u0007', secret: 'SCRAM-SHA-256$4096:EM1ymycr/STayJZBQHxRSQ==$Uzfmxo1z3fHcYM/CXJUqS5UdW6uUtC7BrtYPd4MxgII=:R4IsK0lJsQaWUnBy/RG8DiKxX6ABjJ6MOemIbgjZfVU=' },
  // unassigned in Unicode 3.2 before normalization: raw bytes, not NFKC's "0.x"
  { role: 'enclosed_u', password: '\u{1F100}x', secret: 'SCRAM-SHA-256$4096:Rr3JlAno5qK59h2uCNVAMQ==$Dm1JtbwgGXPnPlxQ2LPFHtdw7GfcNKPI2D3V3AJiX9w=:r/eBXRiSGe9KSyjfclinwJSq/JoglmzomvVP6w5mp0s=' },
  // password_encryption = md5
  { role: 'md5_u', password: 'secret', secret: 'md544db1f7cadc06f8713cd0bf091ed300d' },
  { role: 'expired', password: 'secret', secret: 'md5e49a5d5fa618c8db12098e0c0a799f43' },
  { role: 'md5_s', password: 'secret', secret: 'md543bf0176058ddeb1d5b9d26c1b777ee2' },
  { role: 'pw_u', password: 'secret', secret: 'md58906c6c7cdefe7c0a8b535f9481e3333' },
  { role: 'f_dave', password: 'hunter2', secret: 'md5c7206e794302b62350f3e072183a7c5c' },
];

describe('auth/secrets', () => {
  describe('secrets captured from PostgreSQL 15', () => {
    for (const s of PG_SECRETS) {
      if (s.secret.startsWith('md5')) {
        it(`md5Secret reproduces ${s.role}'s md5 secret`, () => {
          expect(md5Secret(s.role, s.password)).to.equal(s.secret);
          expect(getPasswordType(s.secret)).to.equal('md5');
        });
      } else {
        it(`buildScramSecret with ${s.role}'s salt reproduces StoredKey and ServerKey`, () => {
          const parsed = parseScramSecret(s.secret)!;
          expect(parsed).to.not.equal(null);
          expect(buildScramSecret(s.password, { salt: parsed.saltBytes, iterations: parsed.iterations })).to.equal(s.secret);
        });
      }
      it(`plainCryptVerify accepts ${s.role}'s password and refuses another`, () => {
        expect(plainCryptVerify(s.role, s.secret, s.password)).to.deep.equal({ ok: true });
        expect(plainCryptVerify(s.role, s.secret, 'not it')).to.deep.equal({
          ok: false, logdetail: `Password does not match for user "${s.role}".`,
        });
      });
    }
    it('the NFKC-normalized form of a raw-hashed password does not match (PG did not normalize it)', () => {
      const enclosed = PG_SECRETS.find((s) => s.role === 'enclosed_u')!;
      expect(plainCryptVerify('enclosed_u', enclosed.secret, '0.x').ok).to.equal(false);
      const unicode = PG_SECRETS.find((s) => s.role === 'unicode_u')!;
      expect(plainCryptVerify('unicode_u', unicode.secret, 'IX').ok).to.equal(true);
    });
  });

  describe('md5 challenge', () => {
    // PG 15 sent AuthenticationMD5Password with salt 70 38 29 d9 to md5_u and answered AuthenticationOk to this response.
    const salt = Buffer.from('703829d9', 'hex');
    it('md5ClientResponse matches the response PG accepted', () => {
      expect(md5ClientResponse('md5_u', 'secret', salt)).to.equal('md5fe908a2e50bfd6bcfbaec8b511f24444');
      expect(md5ChallengeResponse('md544db1f7cadc06f8713cd0bf091ed300d', salt)).to.equal('md5fe908a2e50bfd6bcfbaec8b511f24444');
    });
    it('md5CryptVerify: ok, mismatch, and a secret md5 cannot use', () => {
      expect(md5CryptVerify('md5_u', 'md544db1f7cadc06f8713cd0bf091ed300d', 'md5fe908a2e50bfd6bcfbaec8b511f24444', salt)).to.deep.equal({ ok: true });
      expect(md5CryptVerify('md5_u', 'md544db1f7cadc06f8713cd0bf091ed300d', 'md5fe908a2e50bfd6bcfbaec8b511f24445', salt))
        .to.deep.equal({ ok: false, logdetail: 'Password does not match for user "md5_u".' });
      expect(md5CryptVerify('s', PG_SECRETS[1]!.secret, 'md5x', salt))
        .to.deep.equal({ ok: false, logdetail: 'User "s" has a password that cannot be used with MD5 authentication.' });
    });
  });

  describe('getPasswordType', () => {
    const K = Buffer.alloc(32, 1).toString('base64');
    const K31 = Buffer.alloc(31, 1).toString('base64');
    // Each literal was given to PG 15 as CREATE ROLE … PASSWORD '<literal>' with password_encryption=md5: a literal
    // PG classifies as md5/SCRAM is stored verbatim, a "plaintext" one is hashed. Expected values are PG's verdicts.
    const cases: [string, string][] = [
      [`SCRAM-SHA-256$4096:c2FsdA==$${K}:${K}`, 'scram-sha-256'],
      [`SCRAM-SHA-256$ 4096:c2FsdA==$${K}:${K}`, 'scram-sha-256'], // strtol skips leading space
      [`SCRAM-SHA-256$+4096:c2FsdA==$${K}:${K}`, 'scram-sha-256'],
      [`SCRAM-SHA-256$-1:c2FsdA==$${K}:${K}`, 'scram-sha-256'], // no range check
      [`SCRAM-SHA-256$0:c2FsdA==$${K}:${K}`, 'scram-sha-256'],
      [`SCRAM-SHA-256$4096x:c2FsdA==$${K}:${K}`, 'plaintext'],
      [`SCRAM-SHA-256$99999999999999999999:c2FsdA==$${K}:${K}`, 'plaintext'], // ERANGE
      [`SCRAM-SHA-256$4096:c2FsdA$${K}:${K}`, 'plaintext'], // unpadded salt
      [`SCRAM-SHA-256$4096:c2Fs dA==$${K}:${K}`, 'plaintext'],
      [`SCRAM-SHA-256$$4096:c2FsdA==$${K}:${K}`, 'plaintext'],
      [`$SCRAM-SHA-256$4096:c2FsdA==$${K}:${K}`, 'scram-sha-256'], // strtok skips leading delimiters
      [`SCRAM-SHA-256$4096::c2FsdA==$${K}:${K}`, 'plaintext'],
      [`SCRAM-SHA-256$4096:c2FsdA==$$${K}:${K}`, 'plaintext'],
      [`SCRAM-SHA-256$4096:c2FsdA==$${K}::${K}`, 'plaintext'],
      [`SCRAM-SHA-256$4096:c2FsdA==$${K}:${K}:x`, 'plaintext'],
      [`SCRAM-SHA-256$4096:c2FsdA==$${K31}:${K}`, 'plaintext'], // StoredKey must be 32 bytes
      [`SCRAM-SHA-256$4096:AA==AAAA$${K}:${K}`, 'scram-sha-256'], // PG's decoder continues after '='
      [`SCRAM-SHA-256$4096:AA=A$${K}:${K}`, 'scram-sha-256'],
      [`SCRAM-SHA-256$4096:A===$${K}:${K}`, 'plaintext'],
      [`scram-sha-256$4096:c2FsdA==$${K}:${K}`, 'plaintext'],
      [`SCRAM-SHA-256$4096:c2FsdA==$${K}`, 'plaintext'],
      [`md5${'a'.repeat(32)}`, 'md5'],
      [`md5${'A'.repeat(32)}`, 'plaintext'], // lower-case hex only
      [`md5${'a'.repeat(31)}`, 'plaintext'],
      [`md5${'a'.repeat(33)}`, 'plaintext'],
      [`md5${'g'.repeat(32)}`, 'plaintext'],
      ['secret', 'plaintext'],
    ];
    for (const [secret, type] of cases) {
      it(`${JSON.stringify(secret.replaceAll(K, 'K'))} is ${type}`, () => expect(getPasswordType(secret)).to.equal(type));
    }
  });

  describe('parseScramSecret', () => {
    it('splits the reference secret into its fields', () => {
      const p = parseScramSecret(PG_SECRETS[0]!.secret)!;
      expect(p.iterations).to.equal(4096);
      expect(p.salt).to.equal('nv73+pGgsWowCanRbB6CdA==');
      expect(p.saltBytes.equals(pgB64Decode('nv73+pGgsWowCanRbB6CdA==')!)).to.equal(true);
      expect(p.storedKey.toString('base64')).to.equal('61dfD6JVUIsM6fhIJqIUcWaN+5yMGHXBV1ettCee1W0=');
      expect(p.serverKey.toString('base64')).to.equal('2LR2tWnVTFB4mCAZi09lMe0ze8rceH7ZDzN6YvgLTuM=');
    });
    it('keeps strtol\'s reading of the iteration count, stored into an int', () => {
      const K = Buffer.alloc(32, 1).toString('base64');
      expect(parseScramSecret(`SCRAM-SHA-256$-1:c2FsdA==$${K}:${K}`)!.iterations).to.equal(-1);
      expect(parseScramSecret(`SCRAM-SHA-256$ +10:c2FsdA==$${K}:${K}`)!.iterations).to.equal(10);
      expect(parseScramSecret(`SCRAM-SHA-256$4294967297:c2FsdA==$${K}:${K}`)!.iterations).to.equal(1);
    });
  });

  describe('buildScramSecret', () => {
    it('takes 16 salt bytes from the injected Random', () => {
      const expectedSalt = new SeededRandom(42).bytes(16);
      const secret = buildScramSecret('pw', { random: new SeededRandom(42) });
      const p = parseScramSecret(secret)!;
      expect(p.saltBytes.equals(expectedSalt)).to.equal(true);
      expect(p.iterations).to.equal(4096);
      expect(buildScramSecret('pw', { random: new SeededRandom(42) })).to.equal(secret);
    });
    it('uses the default iteration count for 0 or less', () => {
      const salt = Buffer.alloc(16, 3);
      expect(buildScramSecret('pw', { salt, iterations: 0 })).to.equal(buildScramSecret('pw', { salt }));
      expect(parseScramSecret(buildScramSecret('pw', { salt, iterations: 2 }))!.iterations).to.equal(2);
    });
  });

  describe('encryptPassword (encrypt_password)', () => {
    const random = () => new SeededRandom(7);
    it('hashes plaintext per password_encryption', () => {
      expect(encryptPassword('md5', 'md5_u', 'secret', random())).to.equal('md544db1f7cadc06f8713cd0bf091ed300d');
      const scram = encryptPassword('scram-sha-256', 'u', 'secret', random());
      expect(getPasswordType(scram)).to.equal('scram-sha-256');
      expect(plainCryptVerify('u', scram, 'secret').ok).to.equal(true);
    });
    it('stores an already-hashed secret as it is, whatever the target', () => {
      expect(encryptPassword('scram-sha-256', 'md5_u', 'md544db1f7cadc06f8713cd0bf091ed300d', random()))
        .to.equal('md544db1f7cadc06f8713cd0bf091ed300d');
      expect(encryptPassword('md5', 'x', PG_SECRETS[0]!.secret, random())).to.equal(PG_SECRETS[0]!.secret);
    });
  });

  describe('plainCryptVerify logdetails', () => {
    it('a plaintext "secret" is in unrecognized format, even when it equals the password', () => {
      expect(plainCryptVerify('u', 'secret', 'secret')).to.deep.equal({
        ok: false, logdetail: 'Password of user "u" is in unrecognized format.',
      });
    });
    it('scramVerifyPlainPassword logs an unparseable secret', () => {
      expect(scramVerifyPlainPassword('u', 'pw', 'SCRAM-SHA-256$4096:zz')).to.deep.equal({
        ok: false, log: 'invalid SCRAM secret for user "u"',
      });
    });
  });
});
