import { expect } from 'chai';
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { PgError } from '../../src/errors.js';
import { SeededRandom } from '../../src/random.js';
import { ScramServerExchange, saslMechanisms, SCRAM_ERROR_SITES, tlsServerEndPointHash, type ScramServerOptions } from '../../src/auth/scram.js';
import { ScramClient } from '../../src/auth/scram-client.js';
import { buildScramSecret } from '../../src/auth/secrets.js';
import { pgB64Decode, pgB64Encode, scramMockSalt } from '../../src/auth/scram-common.js';

/*
 * Fixtures from a throwaway PostgreSQL 15.20 cluster (initdb as the postgres OS user in a temp dir,
 * 127.0.0.1, ssl=on with a self-signed RSA/SHA-256 certificate, `host all all 127.0.0.1/32 scram-sha-256`):
 * - MOCK_NONCE: pg_controldata's "Mock authentication nonce";
 * - SCRAM_U_SECRET: pg_authid.rolpassword after CREATE ROLE scram_u LOGIN PASSWORD 'secret';
 * - PG_ERRORS: a raw wire client sent each message and recorded the ErrorResponse fields (C, M, D, F, L, R).
 * The cluster was stopped and its directory deleted afterwards.
 */
const MOCK_NONCE = Buffer.from('f2491a98cc472a80e688127a258e33708352a0e82e488e0fc7949dd05b565e3f', 'hex');
const SCRAM_U_SECRET = 'SCRAM-SHA-256$4096:4b2CA6Hw+jrsaFuqlc6RNQ==$wcZXHQL8EgHwu8m4z6EusV47v3pv46IM6seS5Y8mtg4=:yccE3L2olmMzyKuarBC8DWSEfAhKV+/pTBfSdPHdN/o=';
const CN = 'abcdefghijklmnopqrstuvwx';
const ZERO_PROOF = Buffer.alloc(32).toString('base64');
const CERT_HASH = createHash('sha256').update('a certificate').digest();
const L = (s: string) => Buffer.from(s, 'latin1');

function server(over: Partial<ScramServerOptions> = {}): ScramServerExchange {
  return new ScramServerExchange({
    user: 'scram_u', secret: SCRAM_U_SECRET, mock: { nonce: MOCK_NONCE }, random: new SeededRandom(1),
    sslInUse: false, selectedMechanism: 'SCRAM-SHA-256', ...over,
  });
}

function caught(fn: () => unknown): PgError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PgError) return e;
    throw e;
  }
  throw new Error('expected a PgError');
}

/** Run client-first (and client-final, built from the server-first nonce) through a fresh exchange. */
function drive(row: { ssl?: boolean; mech?: string; first: string | null; final?: (nonce: string) => string }) {
  const ex = server({
    sslInUse: row.ssl ?? false, selectedMechanism: row.mech ?? 'SCRAM-SHA-256',
    ...(row.ssl ? { tlsServerEndPoint: CERT_HASH } : {}),
  });
  const first = ex.exchange(row.first === null ? null : L(row.first));
  if (!row.final || first.outcome !== 'continue') return { ex, first };
  const nonce = /r=([^,]*)/.exec(first.output.toString('latin1'))![1]!;
  return { ex, first, final: ex.exchange(L(row.final(nonce))) };
}

describe('auth/scram (server)', () => {
  it('advertises -PLUS first, and only over SSL', () => {
    expect(saslMechanisms(true)).to.deep.equal(['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']);
    expect(saslMechanisms(false)).to.deep.equal(['SCRAM-SHA-256']);
  });

  describe('RFC 7677 test vector', () => {
    const secret = buildScramSecret('pencil', { salt: pgB64Decode('W22ZaJ0SNY7soEsUEjb6gQ==')!, iterations: 4096 });
    it('produces the RFC server-first and server-final messages', () => {
      const ex = server({ user: 'user', secret, serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0' });
      const first = ex.clientFirst(L('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
      expect(first.toString('latin1')).to.equal('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
      expect(ex.clientUsername).to.equal('user');
      const final = ex.clientFinal(L('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='));
      expect(final.outcome).to.equal('ok');
      expect(final.outcome === 'ok' && final.serverFinal.toString('latin1')).to.equal('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
      expect(ex.finished).to.equal(true);
    });
    it('fails a proof with one bit flipped, without a logdetail', () => {
      const ex = server({ user: 'user', secret, serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0' });
      ex.clientFirst(L('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
      const final = ex.clientFinal(L('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVU='));
      expect(final).to.deep.equal({ outcome: 'fail' });
    });
  });

  describe('round trips with the SCRAM client', () => {
    function roundTrip(opts: {
      secret: string | null; password: string; user?: string; ssl?: boolean; plus?: boolean;
      clientHash?: Buffer; serverHash?: Buffer;
    }) {
      const mech = opts.plus ? 'SCRAM-SHA-256-PLUS' : 'SCRAM-SHA-256';
      const ex = server({
        user: opts.user ?? 'scram_u', secret: opts.secret, sslInUse: opts.ssl ?? false, selectedMechanism: mech,
        ...(opts.serverHash ? { tlsServerEndPoint: opts.serverHash } : {}), random: new SeededRandom('server'),
      });
      const client = new ScramClient({
        password: opts.password, mechanism: mech, sslInUse: opts.ssl ?? false, channelBinding: opts.plus ? 'require' : 'disable',
        ...(opts.clientHash ? { tlsServerEndPoint: opts.clientHash } : {}), random: new SeededRandom('client'),
      });
      const serverFirst = ex.clientFirst(client.clientFirst());
      const result = ex.clientFinal(client.serverFirst(serverFirst));
      if (result.outcome === 'ok') client.serverFinal(result.serverFinal);
      return { ex, client, serverFirst: serverFirst.toString('latin1'), result };
    }

    it('authenticates against the secret PG 15 stored for password "secret"', () => {
      const { result, client, serverFirst } = roundTrip({ secret: SCRAM_U_SECRET, password: 'secret' });
      expect(result.outcome).to.equal('ok');
      expect(client.succeeded).to.equal(true);
      expect(serverFirst).to.match(/^r=[A-Za-z0-9+/]{24}[A-Za-z0-9+/]{24},s=4b2CA6Hw\+jrsaFuqlc6RNQ==,i=4096$/);
    });
    it('fails a wrong password with no logdetail of its own', () => {
      expect(roundTrip({ secret: SCRAM_U_SECRET, password: 'wrong' }).result).to.deep.equal({ outcome: 'fail' });
    });
    it('server nonce: 18 bytes from the injected Random, base64', () => {
      const { serverFirst, client } = roundTrip({ secret: SCRAM_U_SECRET, password: 'secret' });
      const expected = client.clientNonce + pgB64Encode(new SeededRandom('server').bytes(18));
      expect(serverFirst.startsWith(`r=${expected},`)).to.equal(true);
    });
    it('-PLUS with matching tls-server-end-point data', () => {
      const { result, client } = roundTrip({ secret: SCRAM_U_SECRET, password: 'secret', ssl: true, plus: true, clientHash: CERT_HASH, serverHash: CERT_HASH });
      expect(result.outcome).to.equal('ok');
      expect(client.channelBound).to.equal(true);
    });
    it('-PLUS with a different certificate hash fails the binding check (28000)', () => {
      const e = caught(() => roundTrip({ secret: SCRAM_U_SECRET, password: 'secret', ssl: true, plus: true, clientHash: Buffer.alloc(32), serverHash: CERT_HASH }));
      expect(e.fields).to.deep.equal({
        severity: 'FATAL', sqlstate: '28000', message: 'SCRAM channel binding check failed', file: 'auth-scram.c', line: 1317, routine: 'read_client_final_message',
      });
    });
    it('-PLUS selected but no certificate hash available is an internal error', () => {
      const e = caught(() => roundTrip({ secret: SCRAM_U_SECRET, password: 'secret', ssl: true, plus: true, clientHash: CERT_HASH }));
      expect([e.sqlstate, e.message]).to.deep.equal(['XX000', 'could not get server certificate hash']);
    });
    it('a missing role runs a doomed exchange with the deterministic mock salt', () => {
      const { ex, serverFirst, result } = roundTrip({ secret: null, password: 'secret', user: 'ghost_scram' });
      // PG 15 sent s=0C1mbDkLRxjETwzfccoA3w== to ghost_scram, twice.
      expect(serverFirst).to.match(/,s=0C1mbDkLRxjETwzfccoA3w==,i=4096$/);
      expect(ex.doomed).to.equal(true);
      expect(result).to.deep.equal({ outcome: 'fail' }); // the Role "…" does not exist detail comes from get_role_password
    });
    it('an md5 secret is mocked too, and the failure carries PG\'s logdetail', () => {
      const { ex, serverFirst, result } = roundTrip({ secret: 'md543bf0176058ddeb1d5b9d26c1b777ee2', password: 'secret', user: 'md5_s' });
      expect(serverFirst).to.match(/,s=5j2DzIiNdkm2tCCvvSiMJA==,i=4096$/); // observed on PG 15
      expect(ex.doomed).to.equal(true);
      expect(result).to.deep.equal({ outcome: 'fail', logdetail: 'User "md5_s" does not have a valid SCRAM secret.' });
    });
    it('a secret that looks like SCRAM but does not parse is "not a valid SCRAM secret" (observed; no LOG line)', () => {
      const logged: string[] = [];
      const ex = server({ user: 'garbage_u', secret: 'SCRAM-SHA-256$4096:zz', log: (m) => logged.push(m) });
      expect(ex.salt).to.equal('9Q/rceXW6t22LdXL8MUutg=='); // PG 15 sent this salt
      expect(ex.logdetail).to.equal('User "garbage_u" does not have a valid SCRAM secret.');
      expect(ex.logs).to.deep.equal([]);
      expect(logged).to.deep.equal([]);
    });
    it('SASLprep applies on both sides: the client may type the unnormalized form', () => {
      const secret = buildScramSecret('IX', { random: new SeededRandom(3) });
      expect(roundTrip({ secret, password: 'I\u00ADX' }).result.outcome).to.equal('ok');
      expect(roundTrip({ secret, password: '\u2168' }).result.outcome).to.equal('ok');
    });
    it('the mock iteration count is configurable (16+ has scram_iterations)', () => {
      expect(server({ secret: null, iterations: 10000 }).clientFirst(L(`n,,n=,r=${CN}`)).toString()).to.match(/,i=10000$/);
    });
  });

  describe('messages that continue the exchange (observed on PG 15)', () => {
    const rows: { name: string; first: string | null; output: RegExp }[] = [
      { name: 'y flag over plaintext is accepted', first: 'y,,n=,r=abc', output: /^r=abc[A-Za-z0-9+/]{24},s=4b2CA6Hw\+jrsaFuqlc6RNQ==,i=4096$/ },
      { name: 'an empty client nonce is printable', first: 'n,,n=,r=', output: /^r=[A-Za-z0-9+/]{24},s=/ },
      { name: 'extensions after the nonce are ignored', first: 'n,,n=,r=abc,x=y', output: /^r=abc/ },
      { name: 'a trailing comma is tolerated', first: 'n,,n=,r=abc,', output: /^r=abc/ },
      { name: 'no initial response: an empty challenge', first: null, output: /^$/ },
    ];
    for (const row of rows) {
      it(row.name, () => {
        const { first } = drive(row);
        expect(first.outcome).to.equal('continue');
        expect(first.outcome === 'continue' && first.output.toString('latin1')).to.match(row.output);
      });
    }
    it('after an empty challenge the next message is the client-first message', () => {
      const ex = server();
      expect(ex.clientFirst(null).length).to.equal(0);
      expect(ex.clientFirst(L(`n,,n=,r=${CN}`)).toString()).to.match(new RegExp(`^r=${CN}`));
    });
  });

  describe('protocol errors: every ErrorResponse matches the one PG 15.20 sent', () => {
    const final = (msg: (n: string) => string) => ({ first: `n,,n=,r=${CN}`, final: msg });
    const rows: { name: string; ssl?: boolean; mech?: string; first: string | null; final?: (n: string) => string;
      C: string; M: string; D?: string; L: number; R: string }[] = [
      { name: 'empty client-first', first: '', C: '08P01', M: 'malformed SCRAM message', D: 'The message is empty.', L: 366, R: 'scram_exchange' },
      { name: 'length ≠ strlen', first: 'n,,n=,r=abc\0x', C: '08P01', M: 'malformed SCRAM message', D: 'Message length does not match input length.', L: 371, R: 'scram_exchange' },
      { name: 'bad gs2 flag', first: 'x,,n=,r=abc', C: '08P01', M: 'malformed SCRAM message', D: 'Unexpected channel-binding flag "\'x\'".', L: 1025, R: 'read_client_first_message' },
      { name: 'non-printable gs2 flag', first: '\x01,,n=,r=abc', C: '08P01', M: 'malformed SCRAM message', D: 'Unexpected channel-binding flag "0x01".', L: 1025, R: 'read_client_first_message' },
      { name: '-PLUS with flag n', ssl: true, mech: 'SCRAM-SHA-256-PLUS', first: 'n,,n=,r=abc', C: '08P01', M: 'malformed SCRAM message', D: 'The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include channel binding data.', L: 956, R: 'read_client_first_message' },
      { name: '-PLUS with flag y', ssl: true, mech: 'SCRAM-SHA-256-PLUS', first: 'y,,n=,r=abc', C: '08P01', M: 'malformed SCRAM message', D: 'The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include channel binding data.', L: 978, R: 'read_client_first_message' },
      { name: 'flag p without -PLUS', first: 'p=tls-server-end-point,,n=,r=abc', C: '08P01', M: 'malformed SCRAM message', D: 'The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes channel binding data.', L: 1007, R: 'read_client_first_message' },
      { name: 'unsupported binding type (sanitized)', ssl: true, mech: 'SCRAM-SHA-256-PLUS', first: 'p=tls-unique\x01,,n=,r=abc', C: '08P01', M: 'unsupported SCRAM channel-binding type "tls-unique?"', L: 1019, R: 'read_client_first_message' },
      { name: 'p flag without =', ssl: true, mech: 'SCRAM-SHA-256-PLUS', first: 'px,,n=,r=abc', C: '08P01', M: 'malformed SCRAM message', D: 'Expected character "=" for attribute "p".', L: 720, R: 'read_attr_value' },
      { name: 'flag y while the server has SSL', ssl: true, first: 'y,,n=,r=abc', C: '28000', M: 'SCRAM channel binding negotiation error', D: 'The client supports SCRAM channel binding but thinks the server does not.  However, this server does support channel binding.', L: 985, R: 'read_client_first_message' },
      { name: 'comma missing after n', first: 'nx,n=,r=abc', C: '08P01', M: 'malformed SCRAM message', D: 'Comma expected, but found character "\'x\'".', L: 963, R: 'read_client_first_message' },
      { name: 'comma missing after y', first: 'y;,n=,r=abc', C: '08P01', M: 'malformed SCRAM message', D: 'Comma expected, but found character "\';\'".', L: 993, R: 'read_client_first_message' },
      { name: 'authzid', first: 'n,a=foo,n=,r=abc', C: '0A000', M: 'client uses authorization identity, but it is not supported', L: 1036, R: 'read_client_first_message' },
      { name: 'unexpected attribute in the gs2 header', first: 'n,x,n=,r=abc', C: '08P01', M: 'malformed SCRAM message', D: 'Unexpected attribute "\'x\'" in client-first-message.', L: 1040, R: 'read_client_first_message' },
      { name: 'm= extension', first: 'n,,m=foo,n=,r=abc', C: '0A000', M: 'client requires an unsupported SCRAM extension', L: 1057, R: 'read_client_first_message' },
      { name: 'n attribute missing', first: 'n,,x=,r=abc', C: '08P01', M: 'malformed SCRAM message', D: 'Expected attribute "n" but found "\'x\'".', L: 712, R: 'read_attr_value' },
      { name: 'n without =', first: 'n,,nx,r=abc', C: '08P01', M: 'malformed SCRAM message', D: 'Expected character "=" for attribute "n".', L: 720, R: 'read_attr_value' },
      { name: 'r attribute missing (end of string shows as 0x00)', first: 'n,,n=', C: '08P01', M: 'malformed SCRAM message', D: 'Expected attribute "r" but found "0x00".', L: 712, R: 'read_attr_value' },
      { name: 'non-printable nonce', first: 'n,,n=,r=ab\x01c', C: '08P01', M: 'non-printable characters in SCRAM nonce', L: 1071, R: 'read_client_first_message' },
      { name: 'extension with a non-letter name', first: 'n,,n=,r=abc,1=x', C: '08P01', M: 'malformed SCRAM message', D: 'Attribute expected, but found invalid character "\'1\'".', L: 838, R: 'read_any_attr' },
      { name: 'extension without =', first: 'n,,n=,r=abc,x', C: '08P01', M: 'malformed SCRAM message', D: 'Expected character "=" for attribute "x".', L: 848, R: 'read_any_attr' },
      { name: 'final nonce ≠ client+server nonce', ...final(() => `c=biws,r=wrong,p=${ZERO_PROOF}`), C: '08P01', M: 'invalid SCRAM response', D: 'Nonce does not match.', L: 404, R: 'scram_exchange' },
      { name: 'c= does not repeat the n flag', ...final((n) => `c=eSws,r=${n},p=${ZERO_PROOF}`), C: '08P01', M: 'unexpected SCRAM channel-binding attribute in client-final-message', L: 1335, R: 'read_client_final_message' },
      { name: 'proof is not 32 bytes of base64', ...final((n) => `c=biws,r=${n},p=abc`), C: '08P01', M: 'malformed SCRAM message', D: 'Malformed proof in client-final-message.', L: 1353, R: 'read_client_final_message' },
      { name: 'text after the proof', ...final((n) => `c=biws,r=${n},p=${ZERO_PROOF},x=y`), C: '08P01', M: 'malformed SCRAM message', D: 'Garbage found at the end of client-final-message.', L: 1361, R: 'read_client_final_message' },
      { name: 'no proof at all', ...final((n) => `c=biws,r=${n}`), C: '08P01', M: 'malformed SCRAM message', D: 'Attribute expected, but found end of string.', L: 825, R: 'read_any_attr' },
      { name: 'c attribute missing', ...final((n) => `x=biws,r=${n},p=${ZERO_PROOF}`), C: '08P01', M: 'malformed SCRAM message', D: 'Expected attribute "c" but found "\'x\'".', L: 712, R: 'read_attr_value' },
      { name: 'binding data for another certificate', ssl: true, mech: 'SCRAM-SHA-256-PLUS', first: `p=tls-server-end-point,,n=,r=${CN}`,
        final: (n) => `c=${Buffer.concat([L('p=tls-server-end-point,,'), Buffer.alloc(32)]).toString('base64')},r=${n},p=${ZERO_PROOF}`,
        C: '28000', M: 'SCRAM channel binding check failed', L: 1317, R: 'read_client_final_message' },
      { name: 'unknown mechanism', mech: 'FOO', first: 'n,,n=,r=abc', C: '08P01', M: 'client selected an invalid SASL authentication mechanism', L: 256, R: 'scram_init' },
      { name: '-PLUS over plaintext', mech: 'SCRAM-SHA-256-PLUS', first: 'n,,n=,r=abc', C: '08P01', M: 'client selected an invalid SASL authentication mechanism', L: 256, R: 'scram_init' },
    ];
    for (const row of rows) {
      it(row.name, () => {
        const e = caught(() => drive(row));
        expect(e.fields).to.deep.equal({
          severity: 'FATAL', sqlstate: row.C, message: row.M, ...(row.D ? { detail: row.D } : {}),
          file: 'auth-scram.c', line: row.L, routine: row.R,
        });
      });
    }
    it('covers every error site in SCRAM_ERROR_SITES', () => {
      const lines = new Set(rows.map((r) => `${r.R}:${r.L}`));
      for (const site of Object.values(SCRAM_ERROR_SITES)) expect(lines.has(`${site.routine}:${site.line}`), site.routine).to.equal(true);
    });
    it('a well-formed wrong proof is a failure, not an error (auth_failed follows)', () => {
      const { final: f } = drive(final((n) => `c=biws,r=${n},p=${ZERO_PROOF}`));
      expect(f).to.deep.equal({ outcome: 'fail' });
    });
    it('a message after the end is "invalid SCRAM exchange state"', () => {
      const ex = server({ secret: buildScramSecret('pw', { random: new SeededRandom(1) }) });
      const client = new ScramClient({ password: 'pw', mechanism: 'SCRAM-SHA-256', sslInUse: false, random: new SeededRandom(2) });
      const sf = ex.clientFirst(client.clientFirst());
      expect(ex.clientFinal(client.serverFirst(sf)).outcome).to.equal('ok');
      const e = caught(() => ex.exchange(L('c=biws')));
      expect([e.sqlstate, e.message]).to.deep.equal(['XX000', 'invalid SCRAM exchange state']);
    });
  });

  describe('tlsServerEndPointHash', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    function certSignedWith(md: forge.md.MessageDigest): Buffer {
      const cert = forge.pki.createCertificate();
      cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
      cert.serialNumber = '01';
      cert.validity.notBefore = new Date(Date.UTC(2024, 0, 1));
      cert.validity.notAfter = new Date(Date.UTC(2034, 0, 1));
      cert.setSubject([{ name: 'commonName', value: 'localhost' }]);
      cert.setIssuer([{ name: 'commonName', value: 'localhost' }]);
      cert.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()), md);
      return Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
    }
    const cases: [string, () => forge.md.MessageDigest, string][] = [
      ['MD5 is upgraded to SHA-256', () => forge.md.md5.create(), 'sha256'],
      ['SHA-1 is upgraded to SHA-256', () => forge.md.sha1.create(), 'sha256'],
      ['SHA-256 stays', () => forge.md.sha256.create(), 'sha256'],
      ['SHA-384 stays', () => forge.md.sha384.create(), 'sha384'],
      ['SHA-512 stays', () => forge.md.sha512.create(), 'sha512'],
    ];
    for (const [name, md, digest] of cases) {
      it(name, () => {
        const der = certSignedWith(md());
        expect(tlsServerEndPointHash(der).equals(createHash(digest).update(der).digest())).to.equal(true);
      });
    }
    it('the certificate of the PG 15 test cluster: SCRAM-SHA-256-PLUS authenticated with this hash', () => {
      // The pg-authsim client computed the binding data with tlsServerEndPointHash and PG accepted it.
      const der = new X509Certificate(PG_CLUSTER_CERT).raw;
      expect(tlsServerEndPointHash(der).toString('hex')).to.equal(createHash('sha256').update(der).digest('hex'));
    });
    function fakeCert(oid: string): Buffer {
      const a = forge.asn1;
      const node = a.create(a.Class.UNIVERSAL, a.Type.SEQUENCE, true, [
        a.create(a.Class.UNIVERSAL, a.Type.SEQUENCE, true, []),
        a.create(a.Class.UNIVERSAL, a.Type.SEQUENCE, true, [a.create(a.Class.UNIVERSAL, a.Type.OID, false, a.oidToDer(oid).getBytes())]),
        a.create(a.Class.UNIVERSAL, a.Type.BITSTRING, false, '\0'),
      ]);
      return Buffer.from(a.toDer(node).getBytes(), 'binary');
    }
    it('Ed25519 has no digest: PG 15 fails the same way', () => {
      expect(() => tlsServerEndPointHash(fakeCert('1.3.101.112'))).to.throw('could not find digest for NID UNDEF');
    });
    it('an unknown signature algorithm cannot be used', () => {
      expect(() => tlsServerEndPointHash(fakeCert('1.2.3.4'))).to.throw('could not determine server certificate signature algorithm');
      expect(() => tlsServerEndPointHash(Buffer.from('not DER'))).to.throw('could not determine server certificate signature algorithm');
    });
  });

  it('mock salt is SHA-256(user ‖ nonce) truncated to 16 bytes', () => {
    expect(server({ user: 'nopw', secret: null }).salt).to.equal('eMRaiPFyRi8u8puGCl+mFw==');
    expect(server({ user: 'nopw', secret: null }).salt).to.equal(pgB64Encode(scramMockSalt('nopw', MOCK_NONCE)));
    expect(server({ user: 'nopw', secret: null, mock: { nonce: Buffer.alloc(32) } }).salt).to.not.equal('eMRaiPFyRi8u8puGCl+mFw==');
  });
});

/** server.crt of the PG 15 test cluster (openssl req -x509 -newkey rsa:2048, SHA-256 signature). */
const PG_CLUSTER_CERT = `-----BEGIN CERTIFICATE-----
MIIDCTCCAfGgAwIBAgIUBW5vANJCSDox/4BFGUz7fQVEmYYwDQYJKoZIhvcNAQEL
BQAwFDESMBAGA1UEAwwJbG9jYWxob3N0MB4XDTI2MTEyNjExNTE1MloXDTI2MTEy
ODExNTE1MlowFDESMBAGA1UEAwwJbG9jYWxob3N0MIIBIjANBgkqhkiG9w0BAQEF
AAOCAQ8AMIIBCgKCAQEA092JKFDZmjInCkzawqF5kE2nwGkKGQdlDtti5WnaIcgY
RqyGeUpSCZyJLgelWltPSXZi4lKwfCKrRF+o0Yn2jNfAC+Aw1ErwdTkcFzKpUvSN
sNBfKhT5f36yuZOdqvSOFW9zDCxEncPekeTJZXZKKU7zAH11HI9+qlO8n114rU26
eUeraxb8NYOnrwUcunY6ObyJZ/3gKQnjq1e6DVS/GSLCOLYjno1k4HD9MPSGontH
SLMYwO7pAXXdgmN8ldhF1dOxheeXVIYXhz7SsvsfYe5HZwv+mbvlzy1jiAxn5TeT
u+PuY0NNXGlrzDSUfVlBKLqvjTHqT6hoCqHapwmvnQIDAQABo1MwUTAdBgNVHQ4E
FgQUkWccwpwwiDWV+vekbcvpcCGwDY0wHwYDVR0jBBgwFoAUkWccwpwwiDWV+vek
bcvpcCGwDY0wDwYDVR0TAQH/BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOCAQEAF+lN
7rRnLaFdAXfPOadZUCDNg5nHeqeR0l8BaqOq32+KreAvAsPnNBdNjyEiJnkqz98+
FkQy6rVAemMEgZpnEYgbgdJ/KWOyTRcweVwJry31ZXMGb7dqD0EwzDfbxoQllLUj
0vA3mFIvV1PXg7X62LNCFjEDzde6e2eiROPkA5q2sgnJxr+dE9wfxlDPWNvlYDTS
L8nc26o4OTQC337WsakwsmfVzz8GLP2mViN1qdC1zSbzebdJQSSCf5Brf2F34o2y
2KwMyaXCm5wTknRsQ+JXjPWEMqKEToZBg7hkVhJet5TorMNng6z1o2wPr++Ap5Gc
D4uEMEX72eZ/dkorTA==
-----END CERTIFICATE-----`;
