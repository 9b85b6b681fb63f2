/** The clients `matrix` can drive, by name: psql (libpq models) and the driver profiles. */
import { builtinClient, psqlClient, psycopgClient, type MatrixClient } from './matrix.js';
import { DRIVER_PROFILES, driverProfile } from '../clients/drivers/index.js';
import { inProcessTransport } from '../clients/libpq/transport.js';
import { SeededRandom } from '../random.js';

function driverClient(name: string): MatrixClient {
  const profile = DRIVER_PROFILES[name]!;
  // Only options in the driver's own vocabulary: postgres.js, for one, sends unknown URL parameters to the server.
  const knows = (option: string, value?: string) => profile.options.some((o) => o.name === option && (value === undefined || !o.values || o.values.includes(value)));
  /** An option in the driver's words: its own, or its equivalent of a libpq keyword; null when it has none. */
  const translate = (k: string, v: string): Array<[string, string]> | null => (knows(k, v) ? [[k, v]] : profile.fromLibpq?.(k, v) ?? null);
  return builtinClient({
    name,
    describe: `${profile.version} (model)`,
    accepts: (k, v) => translate(k, v) !== null,
    async login({ server, clock, seed, user, password, sslmode, sslrootcert, options, trace }) {
      const extra = Object.fromEntries(Object.entries(options ?? {}).flatMap(([k, v]) => translate(k, v) ?? []));
      const r = await profile.connect(
        { host: '127.0.0.1', port: 5432, user, database: 'postgres', password, options: { ...(sslmode && knows('sslmode') ? { sslmode } : {}), ...(sslmode && sslrootcert && knows('sslrootcert', sslrootcert) ? { sslrootcert } : {}), ...extra } },
        {
          transport: inProcessTransport(server), random: new SeededRandom(seed), clock, ...(trace ? { onTrace: trace } : {}),
          // A Node application trusts a private CA through NODE_EXTRA_CA_CERTS (read from this environment, not the process's).
          ...(profile.runtime === 'node' && sslrootcert ? { environ: { NODE_EXTRA_CA_CERTS: sslrootcert } } : {}),
        },
      );
      // node-postgres left the socket open (afterRejection=keep-open): the server waits for authentication_timeout.
      if (r.openSocket) {
        await server.idle();
        r.openSocket.destroy();
      }
      return { ok: r.ok, message: r.ok ? '' : `${r.error?.name ? `${r.error.name}: ` : ''}${r.error?.message ?? ''}` };
    },
  });
}

export const MATRIX_CLIENTS: Record<string, MatrixClient> = {
  psql: psqlClient(15),
  'psql-libpq16': psqlClient(16),
  'psql-libpq17': psqlClient(17),
  'psql-libpq18': psqlClient(18),
  psycopg: psycopgClient(),
  ...Object.fromEntries(Object.keys(DRIVER_PROFILES).map((n) => [n, driverClient(n)])),
};

/** A client by name, or by a driver profile's alias (`pq`, `node-postgres`, `jdbc`, ...). */
export function matrixClient(name: string): MatrixClient | undefined {
  const profile = MATRIX_CLIENTS[name] ? undefined : driverProfile(name);
  return MATRIX_CLIENTS[name] ?? (profile ? MATRIX_CLIENTS[profile.name] : undefined);
}
