/**
 * Where the postmaster may listen. pg-authsim is a test tool whose development certificates
 * have public keys, so it binds loopback addresses only, unless the user explicitly allows
 * more (serve --allow-remote), and then it says so in the log.
 */
import { lookup } from 'node:dns/promises';
import * as net from 'node:net';
import { PgError } from '../errors.js';

/** listen_addresses as PostgreSQL reads it: '*' is every interface, 'localhost' the loopback. */
export function expandListenAddress(a: string): string[] {
  if (a === '*') return ['0.0.0.0', '::'];
  if (a === 'localhost') return ['127.0.0.1'];
  return [a];
}

export function isLoopbackAddress(address: string): boolean {
  const a = address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
  if (net.isIPv4(a)) return a.split('.')[0] === '127';
  if (net.isIPv6(a)) return /^(0{0,4}:){7}0{0,3}1$|^::1$/.test(a) || a === '0:0:0:0:0:0:0:1';
  return false;
}

/** Every address a host name resolves to must be loopback (a name could point anywhere). */
async function resolvesToLoopbackOnly(host: string): Promise<boolean> {
  if (net.isIP(host)) return isLoopbackAddress(host);
  try {
    const all = await lookup(host, { all: true });
    return all.length > 0 && all.every((r) => isLoopbackAddress(r.address));
  } catch {
    return false;
  }
}

export interface ListenCheck {
  /** serve --allow-remote: bind what was asked for, with a warning per non-loopback address. */
  allowRemote?: boolean;
  /** Where the addresses came from, for the message: e.g. `listen_addresses (line 2 of configuration file "...")` or `--host`. */
  origin?: string;
}

/**
 * Refuse (FATAL, nothing bound) any address beyond loopback unless allowRemote; with allowRemote
 * return the warnings to log.
 */
export async function checkListenAddresses(hosts: readonly string[], opts: ListenCheck = {}): Promise<string[]> {
  const remote: string[] = [];
  for (const h of hosts) if (!(await resolvesToLoopbackOnly(h))) remote.push(h);
  if (remote.length === 0) return [];
  if (!opts.allowRemote) {
    throw new PgError({
      severity: 'FATAL', sqlstate: 'F0000',
      message: `pg-authsim listens on loopback addresses only, and "${remote[0]}"${opts.origin ? ` (${opts.origin})` : ''} is not one`,
      hint: 'Use 127.0.0.1, ::1 or localhost. To listen beyond this machine anyway, start serve with --allow-remote: anyone who can reach it can then connect, and the development certificates\' private keys are public.',
    });
  }
  return remote.map((h) => `listening beyond loopback on "${h}" (--allow-remote): any host that can reach this machine can connect to this simulated server`);
}
