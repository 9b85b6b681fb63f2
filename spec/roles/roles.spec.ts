import { expect } from 'chai';
import { ConfigFileError } from '../../src/errors.js';
import { SeededRandom } from '../../src/random.js';
import { getPasswordType, md5Secret, plainCryptVerify } from '../../src/auth/secrets.js';
import { getRolePassword, parseRolesFile, parseTimestamptz, RolesFileError, type RoleCatalog } from '../../src/roles/index.js';

const parse = (text: string, seed = 1) => parseRolesFile(text, { random: new SeededRandom(seed) });

function fileError(text: string, path?: string): RolesFileError {
  try {
    parseRolesFile(text, { random: new SeededRandom(1), ...(path ? { path } : {}) });
  } catch (e) {
    if (e instanceof RolesFileError) return e;
    throw e;
  }
  throw new Error('expected a RolesFileError');
}

/**
 * This file was also run through psql against PostgreSQL 15.20 (password_encryption starting at
 * scram-sha-256, TimeZone Etc/UTC); EXPECTED is what pg_authid and pg_auth_members held afterwards.
 */
const SAMPLE = `-- sample roles file
/* block comment /* nested */ still comment */
CREATE ROLE f_staff;                                  -- a group: NOLOGIN by default
CREATE ROLE f_admins WITH NOLOGIN CREATEROLE IN ROLE f_staff;
CREATE USER f_alice PASSWORD 'secret' IN ROLE f_admins;
CREATE USER "F Bob" WITH PASSWORD 'md5a3556571e93b0d20722ba62be61e8c2d' CONNECTION LIMIT 3;
CREATE ROLE f_Carol LOGIN SUPERUSER VALID UNTIL '2030-01-02 03:04:05+02' PASSWORD 'pa''ss';
CREATE ROLE f_nopw LOGIN NOINHERIT REPLICATION BYPASSRLS CREATEDB;
SET password_encryption = 'md5';
CREATE USER f_dave ENCRYPTED PASSWORD 'hunter2' VALID UNTIL 'infinity';
CREATE ROLE f_ops ROLE f_dave, "F Bob";
GRANT f_staff, f_ops TO f_carol;
ALTER ROLE f_nopw WITH CONNECTION LIMIT 10 NOREPLICATION;
ALTER USER f_dave VALID UNTIL '2000-01-01';
ALTER GROUP f_staff ADD USER f_nopw;
CREATE ROLE f_empty LOGIN PASSWORD '';
`;

// name, super, inherit, createrole, createdb, login, replication, bypassrls, connlimit, secret ('scram' for random salts), validUntil ms
const EXPECTED: [string, boolean, boolean, boolean, boolean, boolean, boolean, boolean, number, string | null, number | null][] = [
  ['f_staff', false, true, false, false, false, false, false, -1, null, null],
  ['f_admins', false, true, true, false, false, false, false, -1, null, null],
  ['f_alice', false, true, false, false, true, false, false, -1, 'scram', null],
  ['F Bob', false, true, false, false, true, false, false, 3, 'md5a3556571e93b0d20722ba62be61e8c2d', null],
  ['f_carol', true, true, false, false, true, false, false, -1, 'scram', 1893546245000],
  ['f_nopw', false, false, false, true, true, false, true, 10, null, null],
  ['f_dave', false, true, false, false, true, false, false, -1, 'md5c7206e794302b62350f3e072183a7c5c', 946684800000],
  ['f_ops', false, true, false, false, false, false, false, -1, null, null],
  ['f_empty', false, true, false, false, true, false, false, -1, null, null],
];
const EXPECTED_MEMBERSHIPS = [
  'F Bob in f_ops', 'f_admins in f_staff', 'f_alice in f_admins', 'f_carol in f_ops', 'f_carol in f_staff', 'f_dave in f_ops', 'f_nopw in f_staff',
];

describe('roles', () => {
  describe('a sample file, compared with PostgreSQL 15', () => {
    let cat: RoleCatalog;
    before(() => { cat = parse(SAMPLE); });

    it('creates the same roles with the same attributes, OIDs from 16384 in order', () => {
      const actual = cat.roles().map((r) => [
        r.name, r.superuser, r.inherit, r.createrole, r.createdb, r.canLogin, r.replication, r.bypassrls, r.connectionLimit,
        r.secret !== null && getPasswordType(r.secret) === 'scram-sha-256' ? 'scram' : r.secret, r.validUntil,
      ]);
      expect(actual).to.deep.equal(EXPECTED);
      expect(cat.roles().map((r) => r.oid)).to.deep.equal(EXPECTED.map((_, i) => 16384 + i));
    });
    it('records the same memberships', () => {
      const memberships = cat.roles().flatMap((r) => r.memberOf.map((g) => `${r.name} in ${g}`)).sort();
      expect(memberships).to.deep.equal([...EXPECTED_MEMBERSHIPS].sort());
    });
    it('hashes with SCRAM by default, salts from the injected Random', () => {
      expect(plainCryptVerify('f_alice', cat.get('f_alice')!.secret!, 'secret').ok).to.equal(true);
      expect(plainCryptVerify('f_carol', cat.get('f_carol')!.secret!, "pa'ss").ok).to.equal(true);
      expect(parse(SAMPLE).get('f_alice')!.secret).to.equal(cat.get('f_alice')!.secret);
      expect(parse(SAMPLE, 2).get('f_alice')!.secret).to.not.equal(cat.get('f_alice')!.secret);
    });
    it('prints the NOTICE PG prints for the empty password', () => {
      expect(cat.notices).to.deep.equal([{ line: 16, severity: 'NOTICE', message: 'empty string is not a valid password, clearing password' }]);
    });
  });

  describe('identifiers and literals', () => {
    it('folds unquoted names to lower case (ASCII only) and keeps quoted ones', () => {
      const cat = parse('CREATE ROLE MixedCase; CREATE ROLE "Weird Name"; CREATE ROLE "a""b"; CREATE ROLE ÜberUser; CREATE ROLE "select";');
      expect(cat.roles().map((r) => r.name)).to.deep.equal(['mixedcase', 'Weird Name', 'a"b', 'Überuser', 'select']);
      expect(cat.exists('MixedCase')).to.equal(false);
    });
    it('truncates names to 63 bytes with PG\'s NOTICE', () => {
      const long = `h3_${'a'.repeat(72)}`;
      const cat = parse(`CREATE ROLE ${long};`);
      const clipped = long.slice(0, 63);
      expect(cat.exists(clipped)).to.equal(true);
      expect(cat.notices).to.deep.equal([{ line: 1, severity: 'NOTICE', message: `identifier "${long}" will be truncated to "${clipped}"` }]);
    });
    it('reads \'\' and E\'…\' escapes in passwords', () => {
      const cat = parse("CREATE USER a PASSWORD 'it''s'; CREATE USER b PASSWORD E'caf\\u00e9\\n\\x41';");
      expect(plainCryptVerify('a', cat.get('a')!.secret!, "it's").ok).to.equal(true);
      expect(plainCryptVerify('b', cat.get('b')!.secret!, 'caf\u00e9\nA').ok).to.equal(true);
    });
    it('joins string segments separated by a newline, as SQL does', () => {
      const cat = parse("CREATE USER a PASSWORD 'sec'\n   'ret';");
      expect(plainCryptVerify('a', cat.get('a')!.secret!, 'secret').ok).to.equal(true);
      expect(fileError("CREATE USER a PASSWORD 'sec' 'ret';").message).to.equal('syntax error at or near "\'ret\'"');
    });
    it('unreserved keywords are valid role names', () => {
      expect(parse('CREATE ROLE admin; CREATE ROLE role; GRANT admin TO role;').isMember('role', 'admin')).to.equal(true);
    });
    it('accepts the boolean options as quoted identifiers in lower case', () => {
      expect(parse('CREATE ROLE g "login";').get('g')!.canLogin).to.equal(true);
    });
  });

  describe('password_encryption and stored secrets', () => {
    it('SET switches the hash for the roles that follow', () => {
      const cat = parse(`CREATE USER s PASSWORD 'secret';
SET password_encryption TO md5;
CREATE USER md5_u PASSWORD 'secret';
SET password_encryption = DEFAULT;
CREATE USER t PASSWORD 'secret';`);
      expect(getPasswordType(cat.get('s')!.secret!)).to.equal('scram-sha-256');
      expect(cat.get('md5_u')!.secret).to.equal('md544db1f7cadc06f8713cd0bf091ed300d'); // what PG 15 stored
      expect(getPasswordType(cat.get('t')!.secret!)).to.equal('scram-sha-256');
    });
    it('the passwordEncryption option sets the starting value', () => {
      const cat = parseRolesFile("CREATE USER md5_u PASSWORD 'secret';", { passwordEncryption: 'md5', random: new SeededRandom(1) });
      expect(cat.get('md5_u')!.secret).to.equal('md544db1f7cadc06f8713cd0bf091ed300d');
    });
    it('keeps pre-hashed secrets verbatim, and clears a secret of the empty password', () => {
      const scram = 'SCRAM-SHA-256$4096:nv73+pGgsWowCanRbB6CdA==$61dfD6JVUIsM6fhIJqIUcWaN+5yMGHXBV1ettCee1W0=:2LR2tWnVTFB4mCAZi09lMe0ze8rceH7ZDzN6YvgLTuM=';
      const emptyMd5 = 'md5' + '0'.repeat(32);
      const cat = parseRolesFile(`CREATE USER x PASSWORD '${scram}';\nCREATE USER e PASSWORD '${emptyMd5}';\nCREATE USER z PASSWORD 'md593cd92b8c9f8a94e33b1d5b91a3bcd5a';`,
        { passwordEncryption: 'md5', random: new SeededRandom(1) });
      expect(cat.get('x')!.secret).to.equal(scram);
      expect(cat.get('e')!.secret).to.equal(emptyMd5); // not md5("" ‖ "e"), so kept
      expect(cat.get('z')!.secret).to.equal('md593cd92b8c9f8a94e33b1d5b91a3bcd5a');
      const md5OfEmpty = parseRolesFile(`CREATE USER z PASSWORD '${md5Secret('z', '')}';`, { random: new SeededRandom(1) });
      expect(md5OfEmpty.get('z')!.secret).to.equal(null);
      expect(md5OfEmpty.notices[0]!.message).to.equal('empty string is not a valid password, clearing password');
    });
    it('ALTER ROLE … PASSWORD NULL removes the password; ALTER changes only what it names', () => {
      const cat = parse("CREATE USER u PASSWORD 'x' CONNECTION LIMIT 4;\nALTER ROLE u PASSWORD NULL SUPERUSER;");
      expect(cat.get('u')).to.include({ secret: null, superuser: true, canLogin: true, connectionLimit: 4 });
    });
  });

  describe('memberships (is_member)', () => {
    const cat = parse(`CREATE ROLE a; CREATE ROLE b IN ROLE a; CREATE USER c NOINHERIT IN ROLE b;
CREATE USER su SUPERUSER; CREATE ROLE lonely; CREATE GROUP g USER c; ALTER GROUP g ADD USER lonely; ALTER GROUP g DROP USER lonely;`);
    const rows: [string, string, boolean][] = [
      ['b', 'a', true], // direct
      ['c', 'a', true], // indirect; NOINHERIT does not matter for membership
      ['c', 'b', true],
      ['a', 'b', false], // not symmetric
      ['a', 'a', true], // a role is a member of itself
      ['su', 'a', false], // superuser does not count
      ['c', 'g', true], // CREATE GROUP … USER
      ['lonely', 'g', false], // added then dropped
      ['ghost', 'a', false],
      ['a', 'ghost', false],
    ];
    for (const [user, group, result] of rows) {
      it(`isMember(${user}, ${group}) = ${result}`, () => expect(cat.isMember(user, group)).to.equal(result));
    }
    it('notices for duplicate grants and drops of non-members, as PG prints them', () => {
      const c = parse('CREATE ROLE h0; CREATE ROLE h1;\nALTER GROUP h0 DROP USER h1;\nGRANT h0 TO h1;\nGRANT h0 TO h1 WITH ADMIN OPTION;\nCREATE ROLE h7 IN ROLE h0, h0;\nCREATE ROLE h2 SYSID 5;');
      expect(c.notices).to.deep.equal([
        { line: 2, severity: 'WARNING', message: 'role "h1" is not a member of role "h0"' },
        { line: 4, severity: 'NOTICE', message: 'role "h1" is already a member of role "h0"' },
        { line: 5, severity: 'NOTICE', message: 'role "h7" is already a member of role "h0"' },
        { line: 6, severity: 'NOTICE', message: 'SYSID can no longer be specified' },
      ]);
    });
  });

  describe('getRolePassword (get_role_password)', () => {
    const now = Date.UTC(2025, 0, 1);
    const cat = parse(`CREATE USER ok PASSWORD 'x';
CREATE USER nopw;
CREATE USER old PASSWORD 'x' VALID UNTIL '2000-01-01';
CREATE USER never PASSWORD 'x' VALID UNTIL '-infinity';
CREATE USER forever PASSWORD 'x' VALID UNTIL 'infinity';
CREATE USER edge PASSWORD 'x' VALID UNTIL '2025-01-01 00:00:00+00';`);
    const rows: [string, string | null][] = [
      ['ok', null],
      ['ghost', 'Role "ghost" does not exist.'],
      ['nopw', 'User "nopw" has no password assigned.'],
      ['old', 'User "old" has an expired password.'],
      ['never', 'User "never" has an expired password.'],
      ['forever', null],
      ['edge', null], // expired only when strictly before now
    ];
    for (const [user, logdetail] of rows) {
      it(`${user}: ${logdetail ?? 'returns the secret'}`, () => {
        const r = getRolePassword(cat, user, now);
        if (logdetail === null) expect(r.secret).to.equal(cat.get(user)!.secret);
        else expect(r).to.deep.equal({ secret: null, logdetail });
      });
    }
    it('edge expires one millisecond later', () => {
      expect(getRolePassword(cat, 'edge', now + 1)).to.deep.equal({ secret: null, logdetail: 'User "edge" has an expired password.' });
    });
  });

  describe('errors, with PG 15\'s messages and the line they are on', () => {
    // Messages, hints and details as psql printed them from PG 15.20 for the same statements.
    const rows: { text: string; message: string; line?: number; sqlstate: string; hint?: string; detail?: string }[] = [
      { text: 'CREATE ROLE g1 FOO;', message: 'unrecognized role option "foo"', sqlstate: '42601' },
      { text: 'CREATE ROLE g1 "LOGIN";', message: 'unrecognized role option "LOGIN"', sqlstate: '42601' },
      { text: 'CREATE ROLE g1;\n-- again, differently spelled\nCREATE ROLE G1;', message: 'role "g1" already exists', line: 3, sqlstate: '42710' },
      { text: 'CREATE ROLE all;', message: 'syntax error at or near "all"', sqlstate: '42601' },
      { text: 'CREATE ROLE public;', message: 'role name "public" is reserved', sqlstate: '42939' },
      { text: 'CREATE ROLE "public";', message: 'role name "public" is reserved', sqlstate: '42939' },
      { text: 'CREATE ROLE none;', message: 'role name "none" is reserved', sqlstate: '42939' },
      { text: 'CREATE ROLE pg_foo;', message: 'role name "pg_foo" is reserved', sqlstate: '42939', detail: 'Role names starting with "pg_" are reserved.' },
      { text: 'CREATE ROLE "pg_x";', message: 'role name "pg_x" is reserved', sqlstate: '42939', detail: 'Role names starting with "pg_" are reserved.' },
      { text: 'CREATE ROLE current_user;', message: 'CURRENT_USER cannot be used as a role name here', sqlstate: '42939' },
      { text: 'CREATE ROLE g2 PASSWORD;', message: 'syntax error at or near ";"', sqlstate: '42601' },
      { text: 'CREATE ROLE g2\n  LOGIN\n  NOLOGIN;', message: 'conflicting or redundant options', line: 3, sqlstate: '42601' },
      { text: "CREATE ROLE g2 PASSWORD 'a' ENCRYPTED PASSWORD 'b';", message: 'conflicting or redundant options', sqlstate: '42601' },
      { text: "CREATE ROLE g2 UNENCRYPTED PASSWORD 'a';", message: 'UNENCRYPTED PASSWORD is no longer supported', sqlstate: '0A000', hint: 'Remove UNENCRYPTED to store the password in encrypted form instead.' },
      { text: 'CREATE ROLE g2 CONNECTION LIMIT -2;', message: 'invalid connection limit: -2', sqlstate: '22023' },
      { text: 'CREATE ROLE h4 CONNECTION LIMIT 99999999999;', message: 'syntax error at or near "99999999999"', sqlstate: '42601' },
      { text: "CREATE ROLE g2 VALID UNTIL 'garbage';", message: 'invalid input syntax for type timestamp with time zone: "garbage"', sqlstate: '22007' },
      { text: "CREATE ROLE g2 VALID UNTIL '2000-13-01';", message: 'date/time field value out of range: "2000-13-01"', sqlstate: '22008', hint: 'Perhaps you need a different "datestyle" setting.' },
      { text: "CREATE ROLE h5 VALID UNTIL '2000-02-30';", message: 'date/time field value out of range: "2000-02-30"', sqlstate: '22008' },
      { text: "CREATE ROLE h5 VALID UNTIL '2030-01-01 25:00';", message: 'date/time field value out of range: "2030-01-01 25:00"', sqlstate: '22008' },
      { text: "CREATE ROLE h5 VALID UNTIL '2030-01-01T00:00:00+16';", message: 'time zone displacement out of range: "2030-01-01T00:00:00+16"', sqlstate: '22009' },
      { text: 'CREATE ROLE g2 IN ROLE nosuch;', message: 'role "nosuch" does not exist', sqlstate: '42704' },
      { text: 'CREATE ROLE g2 ROLE nosuch;', message: 'role "nosuch" does not exist', sqlstate: '42704' },
      { text: 'CREATE ROLE g2 TABLE;', message: 'syntax error at or near "TABLE"', sqlstate: '42601' },
      { text: 'CREATE ROLE "" ;', message: 'zero-length delimited identifier at or near """"', sqlstate: '42601' },
      { text: "CREATE ROLE g3 'x';", message: 'syntax error at or near "\'x\'"', sqlstate: '42601' },
      { text: 'CREATE ROLE g1;\nGRANT g1 TO g1;', message: 'role "g1" is a member of role "g1"', line: 2, sqlstate: '0LP01' },
      { text: 'CREATE ROLE g1;\nCREATE ROLE g4 IN ROLE g1;\nGRANT g4 TO g1;', message: 'role "g4" is a member of role "g1"', line: 3, sqlstate: '0LP01' },
      { text: 'CREATE ROLE h8 ROLE h8;', message: 'role "h8" is a member of role "h8"', sqlstate: '0LP01' },
      { text: 'CREATE ROLE g1;\nGRANT nosuch TO g1;', message: 'role "nosuch" does not exist', line: 2, sqlstate: '42704' },
      { text: 'CREATE ROLE g1;\nGRANT g1 TO nosuch;', message: 'role "nosuch" does not exist', line: 2, sqlstate: '42704' },
      { text: 'CREATE ROLE g1;\nGRANT g1 TO public;', message: 'role "public" does not exist', line: 2, sqlstate: '42704' },
      { text: 'ALTER ROLE nosuch LOGIN;', message: 'role "nosuch" does not exist', sqlstate: '42704' },
      { text: 'ALTER ROLE nosuch PASSWORD NULL;', message: 'role "nosuch" does not exist', sqlstate: '42704' },
      { text: 'CREATE ROLE g1;\nALTER ROLE g1 IN ROLE g4;', message: 'syntax error at or near "ROLE"', line: 2, sqlstate: '42601' },
      { text: 'CREATE ROLE g1;\nALTER ROLE g1 ROLE g4;', message: 'syntax error at or near "ROLE"', line: 2, sqlstate: '42601' },
      { text: "CREATE ROLE x PASSWORD 'unterminated;", message: 'unterminated quoted string at or near "\'unterminated;"', sqlstate: '42601' },
      { text: "CREATE ROLE h6 PASSWORD E'\\x00';", message: 'invalid byte sequence for encoding "UTF8": 0x00', sqlstate: '22021' },
      { text: "CREATE ROLE h6 PASSWORD E'\\xe9\\x07';", message: 'invalid byte sequence for encoding "UTF8": 0xe9 0x07', sqlstate: '22021' },
      { text: 'CREATE ROLE h9 WITH WITH LOGIN;', message: 'syntax error at or near "WITH"', sqlstate: '42601' },
      { text: "SET password_encryption = 'foo';", message: 'invalid value for parameter "password_encryption": "foo"', sqlstate: '22023', hint: 'Available values: md5, scram-sha-256.' },
      // End of input and missing semicolons, as PG's parser reports them.
      { text: 'CREATE ROLE x PASSWORD', message: 'syntax error at end of input', sqlstate: '42601' },
      { text: 'CREATE ROLE a\nCREATE ROLE b;', message: 'syntax error at or near "CREATE"', line: 2, sqlstate: '42601' },
      { text: 'CREATE ROLE a; /* never closed', message: 'unterminated /* comment at or near "/* never closed"', sqlstate: '42601' },
    ];
    for (const row of rows) {
      it(`${JSON.stringify(row.text)} → ${row.message}`, () => {
        const e = fileError(row.text);
        expect(e).to.be.instanceOf(ConfigFileError);
        expect({ message: e.message, line: e.lineNumber, sqlstate: e.sqlstate, hint: e.hint, detail: e.detail }).to.deep.equal({
          message: row.message, line: row.line ?? 1, sqlstate: row.sqlstate, hint: row.hint, detail: row.detail,
        });
      });
    }
    it('reports file:line like the other configuration files', () => {
      const e = fileError('CREATE ROLE a;\n\n-- comment\n\n\n\nCREATE ROLE b FOO;', 'roles.sql');
      expect(e.toString()).to.equal('roles.sql:7: unrecognized role option "foo"');
      expect(e.context).to.equal('line 7 of configuration file "roles.sql"');
    });
    it('refuses statements a roles file does not support, saying so', () => {
      const e = fileError('CREATE ROLE a;\nDROP ROLE a;');
      expect([e.message, e.lineNumber, e.sqlstate]).to.deep.equal(['unsupported statement in roles file at or near "DROP"', 2, '0A000']);
      expect(fileError('SET work_mem = 1;').message).to.equal('SET work_mem is not supported in a roles file');
      expect(fileError('ALTER ROLE current_user LOGIN;').message).to.equal('CURRENT_USER is not supported in a roles file');
    });
  });

  describe('parseTimestamptz (VALID UNTIL)', () => {
    const rows: [string, number][] = [
      ['2030-01-02 03:04:05+02', Date.UTC(2030, 0, 2, 1, 4, 5)],
      ['2030-01-02T03:04:05.5Z', Date.UTC(2030, 0, 2, 3, 4, 5, 500)],
      ['2000-01-01', Date.UTC(2000, 0, 1)],
      ['2030-01-01 24:00:00', Date.UTC(2030, 0, 2)], // PG 15 stored 2030-01-02 00:00:00+00
      ['2030-06-01 12:00 -05:30', Date.UTC(2030, 5, 1, 17, 30)],
      ['2030-06-01 12:00:00 UTC', Date.UTC(2030, 5, 1, 12)],
      [' infinity ', Infinity],
      ['-infinity', -Infinity],
      ['epoch', 0],
    ];
    for (const [input, ms] of rows) {
      it(`${JSON.stringify(input)} → ${ms}`, () => expect(parseTimestamptz(input)).to.deep.equal({ ok: true, ms }));
    }
  });
});

