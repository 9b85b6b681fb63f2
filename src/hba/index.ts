/** pg_hba.conf as PostgreSQL 15, 16, 17 and 18 read and apply it. */
export * from './build.js';
export * from './inet.js';
export * from './ldapurl.js';
export * from './messages.js';
export * from './tokenize.js';
export * from './regex.js';
export * from './parse.js';
export * from './memfs.js';
export * from './match.js';
