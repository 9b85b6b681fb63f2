/** The seed scenarios that explain's golden files and the browser specs share. */
import { readServerFiles, withQuickChanges, SEED_DIR, type Scenario } from '../../src/explain/scenario.js';

const seed = readServerFiles(SEED_DIR);

export const SEED_CASES: Record<string, Scenario> = {
  'seed-prefer-wrong': { files: seed, origin: 'examples/seed', client: 'psql', sslmode: 'prefer', password: 'wrong' },
  'hostssl-prefer-wrong': { files: withQuickChanges(seed, { hba: 'hostssl all all 0.0.0.0/0 scram-sha-256' }), origin: 'examples/seed, hostssl', client: 'psql', sslmode: 'prefer', password: 'wrong' },
};
