/**
 * The startup packet's `options` parameter: split like pg_split_opts() and
 * read like process_postgres_switches() reads a backend's command line.
 * Only the GUC-setting switches (-c name=value, --name=value) are
 * simulated; they are applied before the packet's other GUCs.
 */
import { PgError } from '../errors.js';

/** pg_split_opts(): whitespace separates words, a backslash takes the next character literally. */
export function splitOptions(options: string): string[] {
  const words: string[] = [];
  let i = 0;
  const isSpace = (ch: string | undefined) => ch !== undefined && /[ \t\n\r\f\v]/.test(ch);
  for (;;) {
    while (isSpace(options[i])) i++;
    if (i >= options.length) return words;
    let word = '';
    while (i < options.length && !isSpace(options[i])) {
      if (options[i] === '\\' && i + 1 < options.length) i++;
      word += options[i];
      i++;
    }
    words.push(word);
  }
}

/** getopt string of PostgresMain's switches (postgres.c): a colon after a letter means it takes an argument. */
const SWITCHES = 'B:bc:C:D:d:EeFf:h:ijk:lN:nOPp:r:S:sTt:v:W:-:';
const takesArgument = (flag: string) => SWITCHES.includes(`${flag}:`);
const isSwitch = (flag: string) => flag !== ':' && SWITCHES.includes(flag);

function invalidArgument(word: string): PgError {
  return new PgError({
    severity: 'FATAL', sqlstate: '42601',
    message: `invalid command-line argument for server process: ${word}`,
    hint: 'Try "postgres --help" for more information.',
    file: 'postgres.c', line: 4017, routine: 'process_postgres_switches',
  });
}

/**
 * The name=value settings the words ask for, in order. ParseLongOption turns
 * '-' into '_' in the name. Like glibc's getopt, words that are not switches
 * are set aside and the first of them is complained about at the end.
 */
export function startupOptionSettings(words: readonly string[]): Array<[string, string]> {
  const settings: Array<[string, string]> = [];
  const strays: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === '--') { strays.push(...words.slice(i + 1)); break; }
    if (!word.startsWith('-') || word === '-') { strays.push(word); continue; }
    // A word may bundle switches (-bE); the first one that takes an argument eats the rest of the word, or the next word.
    for (let j = 1; j < word.length; j++) {
      const flag = word[j]!;
      if (!isSwitch(flag)) throw invalidArgument(word);
      if (!takesArgument(flag)) throw notSimulated(`-${flag}`);
      let arg = word.slice(j + 1);
      if (arg === '') {
        if (i + 1 >= words.length) throw invalidArgument(word);
        arg = words[++i]!;
      }
      if (flag !== 'c' && flag !== '-') throw notSimulated(`-${flag}`);
      const eq = arg.indexOf('=');
      if (eq < 0) {
        throw new PgError({
          severity: 'FATAL', sqlstate: '42601',
          message: flag === '-' ? `--${arg} requires a value` : `-c ${arg} requires a value`,
          file: 'postgres.c', line: flag === '-' ? 3978 : 3983, routine: 'process_postgres_switches',
        });
      }
      settings.push([arg.slice(0, eq).replaceAll('-', '_'), arg.slice(eq + 1)]);
      break;
    }
  }
  if (strays.length > 0) throw invalidArgument(strays[0]!);
  return settings;
}

function notSimulated(flag: string): PgError {
  return new PgError({
    severity: 'FATAL', sqlstate: '0A000',
    message: `pg-authsim does not simulate the server switch ${flag} in the options parameter`,
    hint: 'Only -c name=value and --name=value are simulated.',
    routine: 'process_postgres_switches',
  });
}
