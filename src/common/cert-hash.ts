/**
 * tls-server-end-point channel binding data (RFC 5929) for SCRAM-SHA-256-PLUS: the server
 * computes it over its own certificate (be_tls_get_certificate_hash), every client over the
 * server's (libpq's pgtls_get_peer_certificate_hash, and each driver's equivalent).
 */
import { createHash } from 'node:crypto';
import forge from 'node-forge';

/** Signature algorithm OID → the OpenSSL digest its signature uses. */
const SIGNATURE_DIGESTS: Record<string, string | null> = {
  '1.2.840.113549.1.1.4': 'md5', // md5WithRSAEncryption
  '1.2.840.113549.1.1.5': 'sha1', // sha1WithRSAEncryption
  '1.3.14.3.2.29': 'sha1', // sha1WithRSA (OIW)
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.1': 'sha1', // ecdsa-with-SHA1
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.10040.4.3': 'sha1', // dsa-with-sha1
  '2.16.840.1.101.3.4.3.1': 'sha224', // dsa-with-sha224
  '2.16.840.1.101.3.4.3.2': 'sha256', // dsa-with-sha256
  '2.16.840.1.101.3.4.3.13': 'sha3-224', // RSA with SHA3
  '2.16.840.1.101.3.4.3.14': 'sha3-256',
  '2.16.840.1.101.3.4.3.15': 'sha3-384',
  '2.16.840.1.101.3.4.3.16': 'sha3-512',
  '2.16.840.1.101.3.4.3.9': 'sha3-224', // ECDSA with SHA3
  '2.16.840.1.101.3.4.3.10': 'sha3-256',
  '2.16.840.1.101.3.4.3.11': 'sha3-384',
  '2.16.840.1.101.3.4.3.12': 'sha3-512',
  // OpenSSL knows these signature algorithms but they name no separate digest, so
  // PG 15 fails with "could not find digest for NID UNDEF".
  '1.2.840.113549.1.1.10': null, // RSASSA-PSS
  '1.3.101.112': null, // Ed25519
  '1.3.101.113': null, // Ed448
};

/**
 * tls-server-end-point channel binding data (RFC 5929), as be_tls_get_certificate_hash() and
 * libpq's pgtls_get_peer_certificate_hash() compute it: the certificate's DER hashed with its
 * signature's digest, MD5 and SHA-1 upgraded to SHA-256.
 */
export function tlsServerEndPointHash(certDer: Buffer): Buffer {
  // A pure function of the certificate, asked for on every handshake (and by libpq's model on
  // every authentication message): computed once per certificate.
  const key = certDer.toString('latin1');
  const known = endPointHashes.get(key);
  if (known) return Buffer.from(known);
  const hash = computeEndPointHash(certDer);
  if (endPointHashes.size >= MAX_CACHED) endPointHashes.delete(endPointHashes.keys().next().value!);
  endPointHashes.set(key, hash);
  return Buffer.from(hash);
}

const endPointHashes = new Map<string, Buffer>();
const MAX_CACHED = 64;

function computeEndPointHash(certDer: Buffer): Buffer {
  let oid: string;
  try {
    const cert = forge.asn1.fromDer(forge.util.createBuffer(certDer.toString('binary')));
    const sigAlg = (cert.value as forge.asn1.Asn1[])[1]!;
    const oidNode = (sigAlg.value as forge.asn1.Asn1[])[0]!;
    oid = forge.asn1.derToOid(oidNode.value as string);
  } catch {
    throw new Error('could not determine server certificate signature algorithm');
  }
  if (!(oid in SIGNATURE_DIGESTS)) throw new Error('could not determine server certificate signature algorithm');
  let digest = SIGNATURE_DIGESTS[oid];
  if (digest === null || digest === undefined) throw new Error('could not find digest for NID UNDEF');
  if (digest === 'md5' || digest === 'sha1') digest = 'sha256';
  return createHash(digest).update(certDer).digest();
}
