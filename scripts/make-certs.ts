/**
 * Writes the test-only development certificates in certs/: a CA, a server certificate for
 * localhost/127.0.0.1/::1, and client certificates CN=test and CN=other for `cert`
 * authentication. Never use these anywhere but tests: the private keys are public.
 *
 * Run with `npm run certs` (after building), or `node dist/scripts/make-certs.js [outdir]`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import forge from 'node-forge';

const { pki, md } = forge;

export const VALID_FROM = new Date(Date.UTC(2026, 0, 1, 0, 0, 0));
export const VALID_TO = new Date(Date.UTC(2046, 0, 1, 0, 0, 0));
const RSA_BITS = 2048;

export interface CertAndKey { cert: string; key: string }
export interface DevCertificates {
  ca: CertAndKey;
  server: CertAndKey;
  client: CertAndKey;
  other: CertAndKey;
}

type Attr = forge.pki.CertificateField;

/** node-forge writes PEM with CRLF; files in the repository use LF. */
const lf = (pem: string) => pem.replace(/\r\n/g, '\n');

function newKeyPair(): forge.pki.rsa.KeyPair {
  // node-forge uses node:crypto's generator under Node, so this is quick.
  return pki.rsa.generateKeyPair({ bits: RSA_BITS, e: 0x10001 });
}

function makeCert(opts: {
  serial: string;
  subject: Attr[];
  issuer: Attr[];
  publicKey: forge.pki.PublicKey;
  signingKey: forge.pki.rsa.PrivateKey;
  extensions: object[];
}): forge.pki.Certificate {
  const cert = pki.createCertificate();
  cert.serialNumber = opts.serial;
  cert.validity.notBefore = VALID_FROM;
  cert.validity.notAfter = VALID_TO;
  cert.publicKey = opts.publicKey;
  cert.setSubject(opts.subject);
  cert.setIssuer(opts.issuer);
  cert.setExtensions(opts.extensions);
  cert.sign(opts.signingKey, md.sha256.create());
  return cert;
}

export function generateDevCertificates(): DevCertificates {
  const caKeys = newKeyPair();
  const caSubject: Attr[] = [
    { name: 'organizationName', value: 'pg-authsim' },
    { name: 'commonName', value: 'pg-authsim test CA' },
  ];
  const ca = makeCert({
    serial: '01', subject: caSubject, issuer: caSubject, publicKey: caKeys.publicKey, signingKey: caKeys.privateKey,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ],
  });

  const leaf = (serial: string, cn: string, extKeyUsage: object, extra: object[] = []): CertAndKey => {
    const keys = newKeyPair();
    const cert = makeCert({
      serial, subject: [{ name: 'commonName', value: cn }], issuer: caSubject,
      publicKey: keys.publicKey, signingKey: caKeys.privateKey,
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', ...extKeyUsage },
        ...extra,
        { name: 'subjectKeyIdentifier' },
        { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
      ],
    });
    return { cert: lf(pki.certificateToPem(cert)), key: lf(pki.privateKeyToPem(keys.privateKey)) };
  };

  return {
    ca: { cert: lf(pki.certificateToPem(ca)), key: lf(pki.privateKeyToPem(caKeys.privateKey)) },
    server: leaf('02', 'localhost', { serverAuth: true }, [{
      name: 'subjectAltName',
      altNames: [
        { type: 2, value: 'localhost' },
        { type: 7, ip: '127.0.0.1' },
        { type: 7, ip: '::1' },
      ],
    }]),
    client: leaf('03', 'test', { clientAuth: true }),
    other: leaf('04', 'other', { clientAuth: true }),
  };
}

/** The file names written, relative to the output directory. */
export const CERT_FILES = {
  ca: ['ca.crt', 'ca.key'],
  server: ['server.crt', 'server.key'],
  client: ['client.crt', 'client.key'],
  other: ['client-other.crt', 'client-other.key'],
} as const;

export function writeDevCertificates(outDir: string, certs: DevCertificates = generateDevCertificates()): string[] {
  fs.mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  for (const [which, [certFile, keyFile]] of Object.entries(CERT_FILES) as Array<[keyof DevCertificates, readonly [string, string]]>) {
    const certPath = path.join(outDir, certFile);
    const keyPath = path.join(outDir, keyFile);
    fs.writeFileSync(certPath, certs[which].cert, { mode: 0o644 });
    fs.chmodSync(certPath, 0o644);
    // libpq and the server refuse private keys readable by group or others.
    fs.writeFileSync(keyPath, certs[which].key, { mode: 0o600 });
    // PostgreSQL and libpq refuse keys with group or world access; an existing file keeps its mode otherwise.
    fs.chmodSync(keyPath, 0o600);
    fs.chmodSync(keyPath, 0o600);
    written.push(certPath, keyPath);
  }
  return written;
}

/** certs/ at the package root, from either scripts/ or dist/scripts/. */
function defaultOutDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, 'certs');
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (invokedDirectly) {
  const outDir = process.argv[2] ? path.resolve(process.argv[2]) : defaultOutDir();
  for (const f of writeDevCertificates(outDir)) console.log(`wrote ${f}`);
}
