/** The libpq-style SCRAM client lives with the libpq model now; kept so existing imports keep working. */
export * from '../clients/libpq/scram-client.js';
