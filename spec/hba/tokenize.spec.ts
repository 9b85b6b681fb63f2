import { expect } from 'chai';
import {
  canonicalizePath, HbaFatalError, joinPathComponents, MAX_TOKEN, parentDirectory, tokenizeAuthFile,
  type HbaLoadMessage, type ReadFileFn, type TokenizedAuthLine,
} from '../../src/hba/index.js';

const HBA = '/data/pg_hba.conf';

/** A readFile over an in-memory tree; throws Node-style errors for listed paths. */
function memFs(files: Record<string, string>, errors: Record<string, string> = {}): ReadFileFn {
  return (p) => {
    const code = errors[p];
    if (code) throw Object.assign(new Error(code), { code });
    return files[p];
  };
}

function tok(text: string, files: Record<string, string> = {}, errors: Record<string, string> = {}) {
  const log: Array<{ m: HbaLoadMessage; fails: boolean }> = [];
  const lines = tokenizeAuthFile(text, HBA, { readFile: memFs(files, errors), log: (m, fails) => log.push({ m, fails }) });
  return { lines, log };
}

/** Fields as plain strings, quoted tokens shown with a leading `q:`. */
const show = (l: TokenizedAuthLine): string[][] => l.fields.map((f) => f.map((t) => (t.quoted ? `q:${t.string}` : t.string)));

describe('hba tokenizer', () => {
  describe('tokens and fields', () => {
    const cases: Array<[string, string[][]]> = [
      ['host all all 127.0.0.1/32 trust', [['host'], ['all'], ['all'], ['127.0.0.1/32'], ['trust']]],
      ['  host\tall\rall   trust  ', [['host'], ['all'], ['all'], ['trust']]],
      ['host db1,db2 u1, u2 trust', [['host'], ['db1', 'db2'], ['u1', 'u2'], ['trust']]],
      ['host a ,b trust', [['host'], ['a'], ['b'], ['trust']]],
      ['host a,,b,  c trust', [['host'], ['a', 'b', 'c'], ['trust']]],
      ['host "all" "my db" trust', [['host'], ['q:all'], ['q:my db'], ['trust']]],
      ['host a"ll" x', [['host'], ['all'], ['x']]],
      ['host "a""b" x', [['host'], ['q:a"b'], ['x']]],
      ['host """x" y', [['host'], ['q:"x'], ['y']]],
      ['host "" x', [['host'], ['q:'], ['x']]],
      ['host "a,b" "c#d" x', [['host'], ['q:a,b'], ['q:c#d'], ['x']]],
      ['host all # a comment, "quoted"', [['host'], ['all']]],
      ['host all#comment', [['host'], ['all']]],
      ['host a,#x', [['host'], ['a']]],
      ['host "unterminated x', [['host'], ['q:unterminated x']]],
      ['host @ x', [['host'], ['@'], ['x']]],
      ['host "@file" x', [['host'], ['q:@file'], ['x']]],
      ['host ünïcödé x', [['host'], ['ünïcödé'], ['x']]],
    ];
    for (const [text, fields] of cases) {
      it(`splits ${JSON.stringify(text)}`, () => {
        const { lines, log } = tok(text);
        expect(lines).to.have.length(1);
        expect(show(lines[0]!)).to.deep.equal(fields);
        expect(log).to.deep.equal([]);
      });
    }

    it('skips empty and comment-only lines but keeps counting physical lines', () => {
      const { lines } = tok('# header\n\n   \n\t# indented\nlocal all all trust\n\nhost all all all md5\n');
      expect(lines.map((l) => l.lineNumber)).to.deep.equal([5, 7]);
    });

    it('stops a line at a NUL byte like the C string it becomes', () => {
      const { lines } = tok('local all all trust\0 ignored\nlocal x y z\n');
      expect(show(lines[0]!)).to.deep.equal([['local'], ['all'], ['all'], ['trust']]);
      expect(lines[1]!.lineNumber).to.equal(2);
    });
  });

  describe('line continuation', () => {
    it('joins lines, keeps the continuation blanks in the raw line and numbers by the first line', () => {
      const { lines } = tok('# c\nhost all      contuser \\\n127.0.0.1/32      password\nlocal all all trust\n');
      expect(lines[0]!.rawLine).to.equal('host all      contuser 127.0.0.1/32      password');
      expect(lines[0]!.lineNumber).to.equal(2);
      expect(lines[1]!.lineNumber).to.equal(4);
    });

    it('continues inside quotes and comments, because joining happens before tokenizing', () => {
      const { lines } = tok('host "a\\\nb" x # comment \\\nstill comment\nlocal y\n');
      expect(show(lines[0]!)).to.deep.equal([['host'], ['q:ab'], ['x']]);
      expect(lines[1]!.lineNumber).to.equal(4);
    });

    it('handles CRLF line ends, including before the backslash', () => {
      const { lines } = tok('host all \\\r\n  all trust\r\nlocal all all peer\r\n');
      expect(lines[0]!.rawLine).to.equal('host all   all trust');
      expect(lines[1]!.rawLine).to.equal('local all all peer');
      expect(lines[1]!.lineNumber).to.equal(3);
    });

    it('ends a continuation at an empty line and at end of file', () => {
      const { lines } = tok('host a \\\n\nhost b \\');
      expect(lines.map((l) => [l.lineNumber, l.rawLine])).to.deep.equal([[1, 'host a '], [3, 'host b ']]);
    });

    it('does not let an empty line re-use the backslash before a stripped one', () => {
      // `a\\` continues once; the empty line then ends it, leaving one literal backslash.
      const { lines } = tok('host all a\\\\\n\nlocal all all trust\n');
      expect(lines.map((l) => [l.lineNumber, l.rawLine])).to.deep.equal([[1, 'host all a\\'], [3, 'local all all trust']]);
    });

    it('lets a lone backslash line continue again', () => {
      const { lines } = tok('host \\\n\\\nall\n');
      expect(lines[0]!.rawLine).to.equal('host all');
      expect(lines).to.have.length(1);
    });
  });

  describe('MAX_TOKEN', () => {
    it('is 10240 as in PostgreSQL 15', () => expect(MAX_TOKEN).to.equal(10240));

    const cases: Array<[string, string, boolean]> = [
      ['10239 bytes load', 'b'.repeat(10239), false],
      ['10240 bytes are too long', 'c'.repeat(10240), true],
      ['a comma after 10239 bytes trips the check first', `${'d'.repeat(10239)},x`, true],
      ['a closing quote after 10239 stored bytes trips it too', `"${'e'.repeat(10237)}""x"`, true],
      ['limits count UTF-8 bytes, not characters', 'é'.repeat(5120), true],
    ];
    for (const [name, token, tooLong] of cases) {
      it(name, () => {
        const { lines, log } = tok(`host all ${token} 127.0.0.1/32 trust\nlocal all all trust\n`);
        expect(lines).to.have.length(2);
        if (!tooLong) {
          expect(lines[0]!.errMsg).to.equal(undefined);
          expect(log).to.deep.equal([]);
          return;
        }
        expect(lines[0]!.errMsg).to.equal('authentication file token too long');
        // The rest of the line is dropped; the fields before stay.
        expect(show(lines[0]!)).to.deep.equal([['host'], ['all']]);
        expect(log).to.have.length(1);
        const m = log[0]!.m;
        expect(log[0]!.fails).to.equal(true);
        expect(m.context).to.equal(undefined);
        expect(m.message.startsWith('authentication file token too long, skipping: "')).to.equal(true);
        expect(Buffer.byteLength(m.message.slice(53, -1))).to.be.at.most(10239);
      });
    }
  });

  describe('@file inclusion', () => {
    it('replaces @file by every token of the file, relative to the including file', () => {
      const files = { '/data/users.txt': 'a, "b c" # comment\n  d\\\ne\n\nf,g h\n' };
      const { lines, log } = tok('host all x,@users.txt,y 127.0.0.1/32 trust', files);
      expect(show(lines[0]!)[2]).to.deep.equal(['x', 'a', 'q:b c', 'de', 'f', 'g', 'h', 'y']);
      expect(lines[0]!.rawLine).to.equal('host all x,@users.txt,y 127.0.0.1/32 trust');
      expect(log).to.deep.equal([]);
    });

    it('expands nested @files relative to the file that names them', () => {
      const files = { '/data/sub/outer.txt': '@inner.txt, o', '/data/sub/inner.txt': '"x y"' };
      const { lines } = tok('host all @sub/outer.txt all trust', files);
      expect(show(lines[0]!)[2]).to.deep.equal(['q:x y', 'o']);
    });

    it('takes @"quoted path" as a file and "@quoted" as a name', () => {
      const files = { '/data/my users': 'u1' };
      const { lines } = tok('host all @"my users" "@my users" trust', files);
      expect(show(lines[0]!)).to.deep.equal([['host'], ['all'], ['u1'], ['q:@my users'], ['trust']]);
    });

    it('drops a field whose @file is empty, shifting the later fields', () => {
      const { lines } = tok('host all @empty.txt 127.0.0.1/32 trust', { '/data/empty.txt': '# nothing\n' });
      expect(show(lines[0]!)).to.deep.equal([['host'], ['all'], ['127.0.0.1/32'], ['trust']]);
    });

    const errorCases: Array<[string, string, Record<string, string>, Record<string, string>, string, string]> = [
      ['missing file', '@nosuch.txt', {}, {}, 'could not open secondary authentication file "@nosuch.txt" as "/data/nosuch.txt": No such file or directory', '58P01'],
      ['.. and . are resolved', '@../x/../nosuch2', {}, {}, 'could not open secondary authentication file "@../x/../nosuch2" as "/nosuch2": No such file or directory', '58P01'],
      ['./ prefixes are dropped', '@./sub/./n3', {}, {}, 'could not open secondary authentication file "@./sub/./n3" as "/data/sub/n3": No such file or directory', '58P01'],
      ['absolute paths are used as written', '@/abs//dir/', {}, {}, 'could not open secondary authentication file "@/abs//dir/" as "/abs//dir/": No such file or directory', '58P01'],
      ['permission denied', '@secret.txt', {}, { '/data/secret.txt': 'EACCES' }, 'could not open secondary authentication file "@secret.txt" as "/data/secret.txt": Permission denied', '42501'],
      ['not a directory', '@f/x', {}, { '/data/f/x': 'ENOTDIR' }, 'could not open secondary authentication file "@f/x" as "/data/f/x": Not a directory', '42809'],
    ];
    for (const [name, ref, files, errors, message, sqlstate] of errorCases) {
      it(`reports a failed @file: ${name}`, () => {
        const { lines, log } = tok(`host all ${ref} 127.0.0.1/32 trust`, files, errors);
        expect(lines[0]!.errMsg).to.equal(message);
        expect(log.map((l) => l.m)).to.deep.equal([{ severity: 'LOG', sqlstate, message }]);
        expect(log[0]!.fails).to.equal(true);
      });
    }

    it('logs a directory as unreadable but does not fail the line (PG15 drops that error)', () => {
      const { lines, log } = tok('host all @sub 127.0.0.1/32 trust', {}, { '/data/sub': 'EISDIR' });
      expect(lines[0]!.errMsg).to.equal(undefined);
      expect(show(lines[0]!)).to.deep.equal([['host'], ['all'], ['127.0.0.1/32'], ['trust']]);
      expect(log).to.deep.equal([{ m: { severity: 'LOG', sqlstate: '42809', message: 'could not read file "/data/sub": Is a directory' }, fails: false }]);
    });

    it('passes an error inside an included file up to the including line, keeping earlier tokens', () => {
      const files = { '/data/bad.txt': 'ok\n@missing\nnever' };
      const { lines } = tok('host all @bad.txt all trust', files);
      expect(lines[0]!.errMsg).to.equal('could not open secondary authentication file "@missing" as "/data/missing": No such file or directory');
      expect(show(lines[0]!)).to.deep.equal([['host'], ['all'], ['ok']]);
    });

    it('stops self-inclusion with the FATAL fd.c raises when descriptors run out', () => {
      const files = { '/data/loop.txt': '@loop.txt' };
      let caught: unknown;
      try {
        tokenizeAuthFile('host all @loop.txt all trust', HBA, { readFile: memFs(files), maxAllocatedDescs: 5 });
      } catch (e) {
        caught = e;
      }
      expect(caught).to.be.instanceOf(HbaFatalError);
      expect((caught as HbaFatalError).logMessage).to.deep.equal({
        severity: 'FATAL', sqlstate: '53000',
        message: 'exceeded maxAllocatedDescs (5) while trying to open file "/data/loop.txt"',
      });
    });

    it('allows nesting right up to the descriptor limit', () => {
      // pg_hba.conf + a.txt + b.txt = 3 open files.
      const files = { '/data/a.txt': '@b.txt', '/data/b.txt': 'deep' };
      const lines = tokenizeAuthFile('host all @a.txt all trust', HBA, { readFile: memFs(files), maxAllocatedDescs: 3 });
      expect(show(lines[0]!)[2]).to.deep.equal(['deep']);
      expect(() => tokenizeAuthFile('host all @a.txt all trust', HBA, { readFile: memFs(files), maxAllocatedDescs: 2 }))
        .to.throw(HbaFatalError, 'exceeded maxAllocatedDescs (2) while trying to open file "/data/b.txt"');
    });
  });

  describe('path helpers', () => {
    const parents: Array<[string, string]> = [
      ['/data/pg_hba.conf', '/data'], ['/pg_hba.conf', '/'], ['pg_hba.conf', ''], ['/a//b//', '/a'], ['a/b', 'a'],
    ];
    for (const [p, want] of parents) it(`parent of ${p} is ${JSON.stringify(want)}`, () => expect(parentDirectory(p)).to.equal(want));

    const canon: Array<[string, string]> = [
      ['/a//b/', '/a/b'], ['/a/./b/.', '/a/b'], ['/a/b/../c', '/a/c'], ['/../x', '/x'], ['a/../..', '..'], ['./a', 'a'], ['a/..', '.'],
    ];
    for (const [p, want] of canon) it(`canonicalizes ${p} to ${want}`, () => expect(canonicalizePath(p)).to.equal(want));

    it('joins without a slash when the head is empty and drops leading ./', () => {
      expect(joinPathComponents('', './x')).to.equal('x');
      expect(joinPathComponents('/d', './././x')).to.equal('/d/x');
    });
  });
});
