/**
 * The startup packet's `options` parameter: splitting (pg_split_opts) and
 * the switches that set GUCs (process_postgres_switches). Every error case
 * but the last was sent to PostgreSQL 15.20 and got the same answer (the
 * wire ones are in edge-startup-cases.ts); the last is a deliberate limit:
 * PostgreSQL would apply -B as shared_buffers and fail with 55P02.
 */
import { expect } from 'chai';
import { PgError } from '../../src/errors.js';
import { splitOptions, startupOptionSettings } from '../../src/session/startup-options.js';

describe('startup packet options', () => {
  describe('splitOptions (pg_split_opts)', () => {
    const cases: Array<[string, string, string[]]> = [
      ['empty', '', []],
      ['only blanks', ' \t\n ', []],
      ['runs of blanks separate words', '  -c  geqo=off\t-c x=1 ', ['-c', 'geqo=off', '-c', 'x=1']],
      ['a backslash keeps a space in the word', '-c application_name=a\\ b', ['-c', 'application_name=a b']],
      ['a doubled backslash is one backslash, and the space still splits', '-c\\\\ x=1', ['-c\\', 'x=1']],
      ['a trailing backslash stays', 'a\\', ['a\\']],
    ];
    for (const [name, input, words] of cases) {
      it(name, () => { expect(splitOptions(input)).to.deep.equal(words); });
    }
  });

  describe('startupOptionSettings (process_postgres_switches)', () => {
    const settings: Array<[string, string[], Array<[string, string]>]> = [
      ['-c with the setting in the next word', ['-c', 'geqo=off'], [['geqo', 'off']]],
      ['-c with the setting attached', ['-cgeqo=off'], [['geqo', 'off']]],
      ['--name=value, dashes become underscores', ['--x-pad=1'], [['x_pad', '1']]],
      ['the value keeps its "=" signs', ['-c', 'search_path=a=b'], [['search_path', 'a=b']]],
      ['in order', ['-c', 'a=1', '--b=2', '-cc=3'], [['a', '1'], ['b', '2'], ['c', '3']]],
    ];
    for (const [name, words, want] of settings) {
      it(name, () => { expect(startupOptionSettings(words)).to.deep.equal(want); });
    }

    const errors: Array<[string, string[], { sqlstate: string; message: string; line?: number; hint?: string }]> = [
      ['-c without "="', ['-c', 'x'], { sqlstate: '42601', message: '-c x requires a value', line: 3983 }],
      ['--name without "="', ['--geqo'], { sqlstate: '42601', message: '--geqo requires a value', line: 3978 }],
      ['a word that is not a switch', ['foo'], { sqlstate: '42601', message: 'invalid command-line argument for server process: foo', line: 4017, hint: 'Try "postgres --help" for more information.' }],
      ['a letter that is not a switch', ['-q'], { sqlstate: '42601', message: 'invalid command-line argument for server process: -q', line: 4017 }],
      ['-c at the very end', ['-c'], { sqlstate: '42601', message: 'invalid command-line argument for server process: -c', line: 4017 }],
      ['a stray word is reported after the switches were read', ['foo', '-c', 'x'], { sqlstate: '42601', message: '-c x requires a value' }],
      ['another real switch is not simulated, and says so', ['-B', '100'], { sqlstate: '0A000', message: 'pg-authsim does not simulate the server switch -B in the options parameter' }],
    ];
    for (const [name, words, want] of errors) {
      it(`${name}: ${want.sqlstate}`, () => {
        let err: unknown;
        try { startupOptionSettings(words); } catch (e) { err = e; }
        expect(err).to.be.instanceOf(PgError);
        const f = (err as PgError).fields;
        expect(f.sqlstate).to.equal(want.sqlstate);
        expect(f.message).to.equal(want.message);
        if (want.line !== undefined) expect([f.file, f.line, f.routine]).to.deep.equal(['postgres.c', want.line, 'process_postgres_switches']);
        if (want.hint !== undefined) expect(f.hint).to.equal(want.hint);
      });
    }
  });
});
