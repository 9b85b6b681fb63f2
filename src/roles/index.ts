export { FIRST_NORMAL_OBJECT_ID, BOOTSTRAP_SUPERUSERID, InvalidOid, PREDEFINED_ROLES, RoleCatalog, getRolePassword, newRole, type Role, type RoleInfo, type RolePassword } from './catalog.js';
export { RolesFileError, RESERVED_KEYWORDS, type Notice } from './lexer.js';
export { parseRolesFile, type ParseRolesOptions } from './parser.js';
export { parseTimestamptz, type TimestampParse } from './timestamp.js';
