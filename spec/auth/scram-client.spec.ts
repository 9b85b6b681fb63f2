import { expect } from 'chai';
import { SeededRandom } from '../../src/random.js';
import { ScramClient, ScramClientError, selectSaslMechanism, type ScramClientOptions } from '../../src/auth/scram-client.js';
import { pgB64Encode } from '../../src/auth/scram-common.js';

const L = (s: string) => Buffer.from(s, 'latin1');

function client(over: Partial<ScramClientOptions> = {}): ScramClient {
  return new ScramClient({ password: 'pencil', mechanism: 'SCRAM-SHA-256', sslInUse: false, random: new SeededRandom(9), ...over });
}

function libpqError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof ScramClientError) return e.message;
    throw e;
  }
  throw new Error('expected a ScramClientError');
}

describe('auth/scram-client', () => {
  describe('RFC 7677 test vector', () => {
    const rfc = () => client({ username: 'user', clientNonce: 'rOprNGfwEbeRWgbNEkqO' });
    const serverFirst = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
    it('client-first and client-final are the RFC bytes', () => {
      const c = rfc();
      expect(c.clientFirst().toString('latin1')).to.equal('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
      expect(c.serverFirst(L(serverFirst)).toString('latin1')).to.equal(
        'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
      expect(c.iterations).to.equal(4096);
      expect(c.salt.toString('base64')).to.equal('W22ZaJ0SNY7soEsUEjb6gQ==');
    });
    it('accepts the RFC server signature', () => {
      const c = rfc();
      c.clientFirst();
      c.serverFirst(L(serverFirst));
      c.serverFinal(L('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='));
      expect(c.succeeded).to.equal(true);
      expect(c.channelBound).to.equal(false);
    });
    it('refuses any other signature: "incorrect server signature"', () => {
      const c = rfc();
      c.clientFirst();
      c.serverFirst(L(serverFirst));
      expect(libpqError(() => c.serverFinal(L('v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')))).to.equal('incorrect server signature');
      expect(c.succeeded).to.equal(false);
    });
  });

  describe('gs2 header and channel-binding attribute, as libpq chooses them', () => {
    const hash = Buffer.alloc(32, 0xab);
    const rows: { name: string; opts: Partial<ScramClientOptions>; header: string; c: string }[] = [
      { name: 'plaintext', opts: {}, header: 'n,,', c: 'biws' },
      { name: 'SSL, server offered no -PLUS, binding not disabled', opts: { sslInUse: true }, header: 'y,,', c: 'eSws' },
      { name: 'SSL with channel_binding=disable', opts: { sslInUse: true, channelBinding: 'disable' }, header: 'n,,', c: 'biws' },
      { name: '-PLUS', opts: { sslInUse: true, mechanism: 'SCRAM-SHA-256-PLUS', tlsServerEndPoint: hash }, header: 'p=tls-server-end-point,,',
        c: pgB64Encode(Buffer.concat([L('p=tls-server-end-point,,'), hash])) },
    ];
    for (const row of rows) {
      it(row.name, () => {
        const c = client(row.opts);
        const first = c.clientFirst().toString('latin1');
        expect(first).to.equal(`${row.header}n=,r=${c.clientNonce}`);
        expect(c.clientNonce).to.equal(pgB64Encode(new SeededRandom(9).bytes(18)));
        const final = c.serverFirst(L(`r=${c.clientNonce}SERVER,s=c2FsdA==,i=1`)).toString('latin1');
        expect(final).to.match(new RegExp(`^c=${row.c.replace(/[+/]/g, '\\$&')},r=${c.clientNonce}SERVER,p=[A-Za-z0-9+/]{43}=$`));
      });
    }
  });

  describe('selectSaslMechanism (pg_SASL_init)', () => {
    const both = ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'];
    const rows: { offered: string[]; ssl: boolean; cb?: 'disable' | 'prefer' | 'require'; result: string; error?: boolean }[] = [
      { offered: both, ssl: true, result: 'SCRAM-SHA-256-PLUS' },
      { offered: both, ssl: true, cb: 'disable', result: 'SCRAM-SHA-256' },
      { offered: ['SCRAM-SHA-256'], ssl: true, result: 'SCRAM-SHA-256' },
      { offered: ['SCRAM-SHA-256'], ssl: false, result: 'SCRAM-SHA-256' },
      { offered: ['SCRAM-SHA-256'], ssl: true, cb: 'require', result: 'channel binding is required, but client does not support it', error: true },
      { offered: both, ssl: false, result: 'server offered SCRAM-SHA-256-PLUS authentication over a non-SSL connection', error: true },
      { offered: ['FOO'], ssl: false, result: "none of the server's SASL authentication mechanisms are supported", error: true },
    ];
    for (const row of rows) {
      it(`${row.offered.join('+')} ssl=${row.ssl} channel_binding=${row.cb ?? 'prefer'} → ${row.result}`, () => {
        const pick = () => selectSaslMechanism(row.offered, { sslInUse: row.ssl, ...(row.cb ? { channelBinding: row.cb } : {}) });
        if (row.error) expect(libpqError(pick)).to.equal(row.result);
        else expect(pick()).to.equal(row.result);
      });
    }
  });

  describe('malformed server messages (libpq 15 wording)', () => {
    const started = () => {
      const c = client();
      c.clientFirst();
      return c;
    };
    const firstRows: [string, (n: string) => string, string][] = [
      ['empty message', () => '', 'malformed SCRAM message (empty message)'],
      ['embedded NUL', (n) => `r=${n}\0`, 'malformed SCRAM message (length mismatch)'],
      ['r missing', () => 's=c2FsdA==,i=4096', 'malformed SCRAM message (attribute "r" expected)'],
      ['r without =', (n) => `r${n}`, 'malformed SCRAM message (expected character "=" for attribute "r")'],
      ['nonce does not start with ours', () => 'r=other,s=c2FsdA==,i=4096', 'invalid SCRAM response (nonce mismatch)'],
      ['salt not base64', (n) => `r=${n}x,s=c2Fsd,i=4096`, 'malformed SCRAM message (invalid salt)'],
      ['i missing', (n) => `r=${n}x,s=c2FsdA==`, 'malformed SCRAM message (attribute "i" expected)'],
      ['iteration count 0', (n) => `r=${n}x,s=c2FsdA==,i=0`, 'malformed SCRAM message (invalid iteration count)'],
      ['iteration count negative', (n) => `r=${n}x,s=c2FsdA==,i=-1`, 'malformed SCRAM message (invalid iteration count)'],
      ['iteration count with junk', (n) => `r=${n}x,s=c2FsdA==,i=40x`, 'malformed SCRAM message (invalid iteration count)'],
    ];
    for (const [name, msg, error] of firstRows) {
      it(`server-first: ${name}`, () => {
        const c = started();
        expect(libpqError(() => c.serverFirst(L(msg(c.clientNonce))))).to.equal(error);
      });
    }
    it('server-first: text after i= is noted but not fatal (libpq carries on)', () => {
      const c = started();
      c.serverFirst(L(`r=${c.clientNonce}x,s=c2FsdA==,i=1,z=1`));
      expect(c.notes).to.deep.equal(['malformed SCRAM message (garbage at end of server-first-message)']);
    });
    const proofSent = () => {
      const c = started();
      c.serverFirst(L(`r=${c.clientNonce}x,s=c2FsdA==,i=1`));
      return c;
    };
    const finalRows: [string, string, string][] = [
      ['e= error attribute', 'e=invalid-proof', 'error received from server in SCRAM exchange: invalid-proof'],
      ['v missing', 'x=abc', 'malformed SCRAM message (attribute "v" expected)'],
      ['signature not 32 bytes', 'v=c2FsdA==', 'malformed SCRAM message (invalid server signature)'],
      ['signature not base64', 'v=!!!!', 'malformed SCRAM message (invalid server signature)'],
      ['wrong signature', `v=${Buffer.alloc(32).toString('base64')}`, 'incorrect server signature'],
    ];
    for (const [name, msg, error] of finalRows) {
      it(`server-final: ${name}`, () => {
        const c = proofSent();
        expect(libpqError(() => c.serverFinal(L(msg)))).to.equal(error);
        expect(c.succeeded).to.equal(false);
      });
    }
    it('messages out of order are refused', () => {
      expect(libpqError(() => client().serverFirst(L('r=x')))).to.equal('invalid SCRAM exchange state');
      expect(libpqError(() => started().serverFinal(L('v=x')))).to.equal('invalid SCRAM exchange state');
    });
  });
});
