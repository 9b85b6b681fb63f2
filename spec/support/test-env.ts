/**
 * Loaded by mocha before any spec (.mocharc.json "require"): the Python drivers the specs run
 * live in the project's own venv (.venv-test, made by scripts/test-setup.sh), so its bin goes
 * first on PATH for every `python3` a spec spawns. Nothing else in the environment changes.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const venvBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../.venv-test/bin');
if (existsSync(path.join(venvBin, 'python3')) && !(process.env.PATH ?? '').split(path.delimiter).includes(venvBin)) {
  process.env.PATH = `${venvBin}${path.delimiter}${process.env.PATH ?? ''}`;
}
