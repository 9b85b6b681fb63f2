/**
 * Client-side TLS contexts, built once per set of trust anchors and client certificate and
 * reused for every handshake that needs the same ones (as a real client process keeps its
 * SSL_CTX): parsing a CA bundle and a key costs more than the handshake that uses them.
 * Only what lives in the context is shared; per-connection settings (server name, ALPN,
 * verification, name checks) stay on each tls.connect().
 *
 * Node's default trust: a driver that passes no `ca` verifies against Node's bundled roots
 * plus NODE_EXTRA_CA_CERTS. The models read that variable from their own environment (the
 * `environ` they were given), never from this process's, so a model answers the same on
 * every machine.
 */
import { createHash } from 'node:crypto';
import * as tls from 'node:tls';

export interface ContextMaterial {
  ca?: string | Buffer | Array<string | Buffer> | undefined;
  cert?: string | Buffer | undefined;
  key?: string | Buffer | undefined;
  minVersion?: tls.SecureVersion | undefined;
  maxVersion?: tls.SecureVersion | undefined;
}

const digests = new WeakMap<object, string>();

/** A stable name for a PEM (or a list of them): identity first, content when it is new. */
function fingerprint(v: string | Buffer | Array<string | Buffer> | undefined): string {
  if (v === undefined) return '-';
  if (typeof v === 'string') return createHash('sha1').update(v).digest('hex');
  const known = digests.get(v);
  if (known) return known;
  const h = Array.isArray(v) ? createHash('sha1').update(v.map((x) => fingerprint(x)).join(',')).digest('hex') : createHash('sha1').update(v).digest('hex');
  digests.set(v, h);
  return h;
}

const contexts = new Map<string, tls.SecureContext>();
const MAX_CONTEXTS = 64;

/** The SecureContext for this material, created on first use. */
export function clientSecureContext(m: ContextMaterial): tls.SecureContext {
  const key = [fingerprint(m.ca), fingerprint(m.cert), fingerprint(m.key), m.minVersion ?? '', m.maxVersion ?? ''].join('|');
  let ctx = contexts.get(key);
  if (!ctx) {
    ctx = tls.createSecureContext({
      ...(m.ca !== undefined ? { ca: m.ca } : {}),
      ...(m.cert !== undefined ? { cert: m.cert } : {}),
      ...(m.key !== undefined ? { key: m.key } : {}),
      ...(m.minVersion ? { minVersion: m.minVersion } : {}),
      ...(m.maxVersion ? { maxVersion: m.maxVersion } : {}),
    });
    if (contexts.size >= MAX_CONTEXTS) contexts.delete(contexts.keys().next().value!);
    contexts.set(key, ctx);
  }
  return ctx;
}

/**
 * tls.connect() options with the context-level material (ca, cert, key, protocol range)
 * replaced by a shared SecureContext; everything else is passed through.
 */
export function withSharedContext(options: tls.ConnectionOptions): tls.ConnectionOptions {
  const { ca, cert, key, minVersion, maxVersion, ...rest } = options;
  return {
    ...rest,
    secureContext: clientSecureContext({
      ca: ca as ContextMaterial['ca'], cert: cert as ContextMaterial['cert'], key: key as ContextMaterial['key'], minVersion, maxVersion,
    }),
  };
}

const extraCaCache = new Map<string, Array<string | Buffer>>();
const BUNDLED: readonly string[] = tls.rootCertificates;
const BUNDLED_LIST: string[] = [...BUNDLED];

/** Node's bundled root certificates as one stable list (stands in for a system store). */
export function bundledRoots(): string[] {
  return BUNDLED_LIST;
}

/**
 * What Node verifies a server against when the driver gives no `ca`: the bundled roots plus
 * the file NODE_EXTRA_CA_CERTS names in `environ` (read with `readFile`; a missing file adds
 * nothing, as Node only warns).
 */
export function nodeDefaultCa(environ: Readonly<Record<string, string | undefined>>, readFile: (path: string) => Buffer | null): Array<string | Buffer> {
  const file = environ.NODE_EXTRA_CA_CERTS;
  const pem = file ? readFile(file) : null;
  // One array per distinct content, so the context cache recognises it without rehashing the bundle.
  const key = pem ? fingerprint(pem) : '';
  let list = extraCaCache.get(key);
  if (!list) {
    list = pem ? [...BUNDLED, pem] : BUNDLED_LIST;
    extraCaCache.set(key, list);
  }
  return list;
}
