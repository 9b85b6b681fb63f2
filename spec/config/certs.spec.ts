import { expect } from 'chai';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { CERT_FILES, writeDevCertificates } from '../../scripts/make-certs.js';

/** The repository's certs/ directory, from spec/config or dist/spec/config. */
function certsDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return path.join(dir, 'certs');
}

function load(dir: string) {
  const read = (f: string) => fs.readFileSync(path.join(dir, f));
  const pair = (files: readonly [string, string]) => ({ pem: read(files[0]), cert: new X509Certificate(read(files[0])), key: read(files[1]) });
  return { ca: pair(CERT_FILES.ca), server: pair(CERT_FILES.server), client: pair(CERT_FILES.client), other: pair(CERT_FILES.other) };
}

function checkSet(certs: ReturnType<typeof load>): void {
  const { ca, server, client, other } = certs;
  expect(ca.cert.subject).to.equal('O=pg-authsim\nCN=pg-authsim test CA');
  expect(ca.cert.ca).to.equal(true);
  expect(ca.cert.verify(ca.cert.publicKey)).to.equal(true);
  for (const [leaf, cn] of [[server, 'localhost'], [client, 'test'], [other, 'other']] as const) {
    expect(leaf.cert.subject).to.equal(`CN=${cn}`);
    expect(leaf.cert.issuer).to.equal(ca.cert.subject);
    expect(leaf.cert.ca).to.equal(false);
    expect(leaf.cert.checkIssued(ca.cert)).to.equal(true);
    expect(leaf.cert.verify(ca.cert.publicKey)).to.equal(true);
  }
  for (const c of [ca, server, client, other]) {
    expect(new Date(c.cert.validFrom).toISOString()).to.equal('2026-01-01T00:00:00.000Z');
    expect(new Date(c.cert.validTo).toISOString()).to.equal('2046-01-01T00:00:00.000Z');
    const key = createPrivateKey(c.key);
    expect(key.asymmetricKeyType).to.equal('rsa');
    expect(key.asymmetricKeyDetails?.modulusLength).to.equal(2048);
    expect(c.cert.checkPrivateKey(key)).to.equal(true);
    expect(createPublicKey(key).export({ format: 'pem', type: 'spki' })).to.equal(c.cert.publicKey.export({ format: 'pem', type: 'spki' }));
    // signed with sha256WithRSAEncryption (OID 1.2.840.113549.1.1.11)
    expect(c.cert.raw.includes(Buffer.from('06092a864886f70d01010b', 'hex'))).to.equal(true);
  }
  expect(server.cert.subjectAltName).to.equal('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  expect(server.cert.checkHost('localhost')).to.equal('localhost');
  expect(server.cert.checkIP('127.0.0.1')).to.equal('127.0.0.1');
  expect(server.cert.checkIP('::1')).to.equal('::1');
  expect(server.cert.checkIP('10.0.0.1')).to.equal(undefined);
  expect(server.cert.keyUsage).to.deep.equal(['1.3.6.1.5.5.7.3.1']); // serverAuth
  expect(client.cert.keyUsage).to.deep.equal(['1.3.6.1.5.5.7.3.2']); // clientAuth
  expect(other.cert.keyUsage).to.deep.equal(['1.3.6.1.5.5.7.3.2']);
}

/** A TLS handshake with client-certificate verification, as `cert` authentication needs. */
async function handshake(certs: ReturnType<typeof load>, servername: string, host: string): Promise<{ peerCN: unknown; authorized: boolean }> {
  const server = tls.createServer({
    cert: certs.server.pem, key: certs.server.key, ca: certs.ca.pem, requestCert: true, rejectUnauthorized: true,
  });
  const seen = new Promise<{ peerCN: unknown; authorized: boolean }>((resolve) => {
    server.on('secureConnection', (s) => {
      resolve({ peerCN: s.getPeerCertificate().subject?.CN, authorized: s.authorized });
      s.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const port = (server.address() as AddressInfo).port;
  try {
    const client = tls.connect({
      host, port, servername, ca: certs.ca.pem, cert: certs.client.pem, key: certs.client.key, rejectUnauthorized: true,
    });
    await new Promise<void>((resolve, reject) => { client.on('secureConnect', resolve); client.on('error', reject); });
    expect(client.authorized).to.equal(true);
    const result = await seen;
    client.destroy();
    return result;
  } finally {
    server.close();
  }
}

describe('certs/ (test-only development certificates)', () => {
  const dir = certsDir();

  it('are present, with the README warning', () => {
    for (const files of Object.values(CERT_FILES)) for (const f of files) expect(fs.existsSync(path.join(dir, f)), f).to.equal(true);
    const readme = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
    expect(readme).to.match(/test-only development certificates/i);
    expect(readme).to.match(/never use them in production/i);
    expect(readme).to.include('npm run certs');
  });

  it('form a CA-signed set: subjects, SANs, validity, key sizes, usages', () => {
    checkSet(load(dir));
  });

  it('keys are PEM that node:crypto reads (PKCS#1)', () => {
    for (const files of Object.values(CERT_FILES)) {
      expect(fs.readFileSync(path.join(dir, files[1]), 'utf8')).to.match(/^-----BEGIN RSA PRIVATE KEY-----\n/);
    }
  });

  for (const [servername, host] of [['localhost', '127.0.0.1'], ['localhost', '::1']] as const) {
    it(`carry a mutually verified TLS handshake for ${servername} at ${host}`, async () => {
      const r = await handshake(load(dir), servername, host);
      expect(r).to.deep.equal({ peerCN: 'test', authorized: true });
    });
  }

  describe('scripts/make-certs', () => {
    let out: string;
    before(() => { out = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcerts-')); });
    after(() => fs.rmSync(out, { recursive: true, force: true }));

    it('generates a fresh, equally valid set with private keys at mode 0600', () => {
      const written = writeDevCertificates(out);
      expect(written.map((p) => path.basename(p)).sort()).to.deep.equal(Object.values(CERT_FILES).flat().sort());
      checkSet(load(out));
      for (const files of Object.values(CERT_FILES)) {
        expect(fs.statSync(path.join(out, files[1])).mode & 0o777).to.equal(0o600);
        expect(fs.statSync(path.join(out, files[0])).mode & 0o777).to.equal(0o644);
      }
      // A new CA key: the committed leaves do not verify against it.
      expect(load(dir).server.cert.verify(load(out).ca.cert.publicKey)).to.equal(false);
    });
  });
});
