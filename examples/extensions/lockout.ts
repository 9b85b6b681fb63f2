/**
 * lockout: lock a role after too many failed logins within a window.
 * Written the way a user would write a PostgreSQL extension, against
 * pg-authsim's extension API.
 *
 * Decisions a real extension must make, and what this one does:
 *
 * - EOF is not a failure. psql without a password connects, is asked for
 *   one, hangs up (the hook sees STATUS_EOF) and then prompts the user. No
 *   password was tried, so counting it would lock people out for typing
 *   slowly. Set `lockout.count_eof = on` to count it anyway.
 *
 * - One login can fail twice. libpq's sslmode=prefer (the default) and
 *   allow retry on a new connection with the other encryption after any
 *   error, so one wrong password arrives as two ERROR calls, TLS then
 *   plaintext (or the reverse). A failure from the same host for the same
 *   role that arrives within `lockout.retry_grace` of the previous one with
 *   the *other* encryption is treated as that login's retry and not counted.
 *
 * - A locked role is refused even with the right password (that is what a
 *   lock is for), with FATAL 28000 and a DETAIL saying until when.
 */
import type { ExtensionContext, ExtensionModule } from 'pg-authsim';

interface Tally { failures: number[]; lockedUntil: number; last: { time: number; ssl: boolean; host: string } | null }

export const lockout: ExtensionModule = {
  name: 'lockout',
  _PG_init(ctx: ExtensionContext): void {
    ctx.gucs.defineCustomIntVariable('lockout.max_failures', { description: 'Failed logins that lock a role.', boot: 5, min: 1, max: 1000, context: 'sighup' });
    ctx.gucs.defineCustomIntVariable('lockout.window', { description: 'Window in which failures are counted.', boot: 300, min: 1, max: 86400, context: 'sighup', unit: 's' });
    ctx.gucs.defineCustomIntVariable('lockout.lock_time', { description: 'How long a role stays locked.', boot: 600, min: 1, max: 86400, context: 'sighup', unit: 's' });
    ctx.gucs.defineCustomIntVariable('lockout.retry_grace', { description: 'A retry with the other encryption within this time is the same login.', boot: 1000, min: 0, max: 60000, context: 'sighup', unit: 'ms' });
    ctx.gucs.defineCustomBoolVariable('lockout.count_eof', { description: 'Count clients that hang up at the password prompt.', boot: false, context: 'sighup' });
    ctx.gucs.markPrefixReserved('lockout');

    const tallies = new Map<string, Tally>();
    const previous = ctx.hooks.ClientAuthentication_hook;

    ctx.hooks.ClientAuthentication_hook = async (port, status) => {
      if (previous) await previous(port, status);
      const now = ctx.now();
      const tally = tallies.get(port.user_name) ?? { failures: [], lockedUntil: 0, last: null };
      tallies.set(port.user_name, tally);

      if (now < tally.lockedUntil) {
        throw ctx.error({
          severity: 'FATAL', sqlstate: '28000',
          message: `role "${port.user_name}" is locked after too many failed logins`,
          detail: `Locked until ${new Date(tally.lockedUntil).toISOString()}.`,
        });
      }
      const STATUS_OK = 0;
      const STATUS_EOF = -2;
      if (status === STATUS_OK) {
        tally.failures = [];
        tally.last = null;
        return;
      }
      if (status === STATUS_EOF && !ctx.gucs.getBool('lockout.count_eof')) return;

      const grace = ctx.gucs.getNumber('lockout.retry_grace');
      const last = tally.last;
      tally.last = { time: now, ssl: port.ssl_in_use, host: port.remote_host };
      const isRetry = last !== null && last.host === port.remote_host && last.ssl !== port.ssl_in_use && now - last.time <= grace;
      if (isRetry) return;

      const windowMs = ctx.gucs.getNumber('lockout.window') * 1000;
      tally.failures = tally.failures.filter((t) => now - t < windowMs);
      tally.failures.push(now);
      if (tally.failures.length >= ctx.gucs.getNumber('lockout.max_failures')) {
        tally.lockedUntil = now + ctx.gucs.getNumber('lockout.lock_time') * 1000;
        tally.failures = [];
        ctx.elog('LOG', `lockout: role "${port.user_name}" locked for ${ctx.gucs.show('lockout.lock_time')}`);
      }
    };
  },
};

export const _PG_init = lockout._PG_init;
