/**
 * `npm run conformance -- [--versions 15,16,17,18] [--format table|markdown|json] [--filter TEXT] ...`:
 * real PostgreSQL against pg-authsim with the same real clients; exits 1 on any difference.
 * See `--help` and src/conformance/runner.ts.
 */
import { conformanceMain } from '../src/conformance/runner.js';

process.exitCode = await conformanceMain(process.argv.slice(2));
