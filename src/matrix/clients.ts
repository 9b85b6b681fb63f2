/** The clients `matrix` can drive, by name. */
import { psqlClient, type MatrixClient } from './matrix.js';

export const MATRIX_CLIENTS: Record<string, MatrixClient> = {
  psql: psqlClient(15),
  'psql-libpq16': psqlClient(16),
};
