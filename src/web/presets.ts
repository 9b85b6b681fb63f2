/** Guided scenarios for the web explorer, each a question a learner asks about sslmode and auth. */
import { readServerFiles, withQuickChanges, SEED_DIR, type Scenario } from '../explain/scenario.js';

export interface Preset {
  id: string;
  title: string;
  /** What to look at, in two or three sentences. */
  lesson: string;
  scenario: Scenario;
}

export function presets(): Preset[] {
  const seed = readServerFiles(SEED_DIR);
  const base = { files: seed, origin: 'examples/seed', client: 'psql', password: 'wrong' as const, sslmode: 'prefer' as const };
  return [
    {
      id: 'double-auth-delay',
      title: "The blog's double auth_delay",
      lesson: 'A wrong password under libpq\'s default sslmode=prefer: the TLS attempt fails, libpq retries in plaintext on a new connection, and ClientAuthentication_hook (with auth_delay inside it) runs twice: 4000 ms instead of 2000.',
      scenario: { ...base },
    },
    {
      id: 'hostssl-retry',
      title: 'hostssl rejects the retry',
      lesson: 'With a hostssl line the plaintext retry matches no line: the server rejects it with "no encryption" before authentication, so the hook runs once and auth_delay sleeps once.',
      scenario: { ...base, files: withQuickChanges(seed, { hba: 'hostssl all all 127.0.0.1/32 scram-sha-256' }), origin: 'examples/seed with a hostssl line' },
    },
    {
      id: 'psql-prompt',
      title: "psql's password prompt (three calls)",
      lesson: 'psql without a password connects, learns that the server wants one, hangs up (STATUS_EOF, auth_delay still sleeps), prompts, and reconnects; a typed wrong password under prefer then fails over TLS and in plaintext: three hook calls.',
      scenario: { ...base, password: 'prompt' },
    },
    {
      id: 'libpq17-allow',
      title: "libpq 17's allow change",
      lesson: 'sslmode=allow against ssl = off with a wrong password: libpq 16 tries plaintext, then asks for SSL on a new connection, is refused and logs in again in plaintext (two hook calls); libpq 17 stops at the refusal (one). Switch the client between psql-libpq16 and psql-libpq17.',
      scenario: { ...base, client: 'psql-libpq17', sslmode: 'allow', files: withQuickChanges(seed, { ssl: false }), origin: 'examples/seed with ssl = off' },
    },
    {
      id: 'direct-ssl',
      title: 'Direct SSL (17+)',
      lesson: 'sslnegotiation=direct skips the SSLRequest round trip: the client starts TLS at once with ALPN "postgresql". PostgreSQL 17 and later accept it; 15 and 16 do not understand it.',
      scenario: { ...base, client: 'psql-libpq17', pgVersion: '17', sslmode: 'require', password: 'right', options: { sslnegotiation: 'direct' } },
    },
    {
      id: 'channel-binding',
      title: 'Channel binding',
      lesson: 'Over TLS the server offers SCRAM-SHA-256-PLUS; libpq picks it and binds the exchange to the server certificate (tls-server-end-point). channel_binding=require refuses to log in without it.',
      scenario: { ...base, sslmode: 'require', password: 'right', options: { channel_binding: 'require' } },
    },
  ];
}
