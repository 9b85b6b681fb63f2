/** pg_hba.conf as PostgreSQL 15 reads and applies it. */
export * from './build.js';
export * from './inet.js';
export * from './ldapurl.js';
export * from './messages.js';
export * from './tokenize.js';
export * from './parse.js';
export * from './match.js';
