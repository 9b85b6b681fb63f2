/** The clients `matrix` can drive, by name: psql (libpq models) and the driver profiles. */
import { psqlClient, psycopgClient, type MatrixClient } from './matrix.js';
import { DRIVER_PROFILES, driverProfile } from '../clients/drivers/index.js';
import { inProcessTransport } from '../clients/libpq/transport.js';
import { SeededRandom } from '../random.js';

function driverClient(name: string): MatrixClient {
  const profile = DRIVER_PROFILES[name]!;
  // Only options in the driver's own vocabulary: postgres.js, for one, sends unknown URL parameters to the server.
  const knows = (option: string, value?: string) => profile.options.some((o) => o.name === option && (value === undefined || !o.values || o.values.includes(value)));
  return {
    name,
    describe: `${profile.version} (model)`,
    async login({ server, seed, user, password, sslmode, sslrootcert }) {
      const r = await profile.connect(
        { host: '127.0.0.1', port: 5432, user, database: 'postgres', password, options: { ...(knows('sslmode') ? { sslmode } : {}), ...(sslrootcert && knows('sslrootcert', sslrootcert) ? { sslrootcert } : {}) } },
        { transport: inProcessTransport(server), random: new SeededRandom(seed) },
      );
      r.openSocket?.destroy();
      return { ok: r.ok, message: r.ok ? '' : `${r.error?.name ? `${r.error.name}: ` : ''}${r.error?.message ?? ''}` };
    },
  };
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
