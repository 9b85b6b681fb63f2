/** Drive a SCRAM or cleartext login by hand over a WireClient, stopping wherever a spec wants. */
import { encodeFrontend } from '../../src/wire/codec.js';
import { ScramClient } from '../../src/auth/scram-client.js';
import { SeededRandom } from '../../src/random.js';
import type { WireClient, Received } from './wire-client.js';

export function startupMessage(user: string, database = 'postgres', extra: Record<string, string> = {}): Buffer {
  return encodeFrontend({ type: 'StartupMessage', protocolVersion: { major: 3, minor: 0 }, params: Object.entries({ user, database, ...extra }) });
}

/**
 * Log in with `password`; `null` hangs up when the server asks for one (what
 * psql -w does). Returns every message received after the startup packet.
 */
export async function login(c: WireClient, user: string, password: string | null, database = 'postgres', opts: { ssl?: boolean } = {}): Promise<Received[]> {
  if (opts.ssl) {
    c.send(encodeFrontend({ type: 'SSLRequest' }));
    const answer = await c.readByte();
    if (answer !== 'S') throw new Error(`server answered ${answer} to SSLRequest`);
    await c.startTls();
  }
  c.send(startupMessage(user, database));
  const first = await c.next();
  if (!first) return [];
  const seen: Received[] = [first];
  if (first.name === 'authenticationSASL') {
    if (password === null) { c.end(); return [...seen, ...(await c.drain())]; }
    const scram = new ScramClient({ password, mechanism: 'SCRAM-SHA-256', sslInUse: opts.ssl ?? false, channelBinding: 'disable', random: new SeededRandom(11) });
    c.send(encodeFrontend({ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: scram.clientFirst() }));
    const cont = await c.next();
    if (!cont) return seen;
    seen.push(cont);
    if (cont.name !== 'authenticationSASLContinue') return [...seen, ...(await c.drain())];
    c.send(encodeFrontend({ type: 'SASLResponse', data: scram.serverFirst(Buffer.from(cont.data as string)) }));
  } else if (first.name === 'authenticationCleartextPassword') {
    if (password === null) { c.end(); return [...seen, ...(await c.drain())]; }
    c.send(encodeFrontend({ type: 'PasswordMessage', password }));
  } else {
    return [...seen, ...(await c.until('readyForQuery'))];
  }
  return [...seen, ...(await c.until('readyForQuery'))];
}
