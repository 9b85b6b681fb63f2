/** Moved to src/common (client and server share it); kept so existing imports keep working. */
export * from '../common/scram-common.js';
