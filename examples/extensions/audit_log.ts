/**
 * audit_log: one line per ClientAuthentication_hook call, to the server log
 * and, when `audit_log.file` is set, appended to that file as well.
 * Nothing is decided here: it only records what the hook was told.
 */
import { appendFileSync } from 'node:fs';
import type { ExtensionContext, ExtensionModule, Port } from 'pg-authsim';

const STATUS_NAMES: Record<number, string> = { 0: 'OK', [-1]: 'ERROR', [-2]: 'EOF' };

export function auditLine(port: Port, status: number, at: number): string {
  const hba = port.hba ? `${port.hba.auth_method}:${port.hba.line_number}` : 'none';
  return [
    new Date(at).toISOString(),
    `pid=${port.pid}`,
    `status=${STATUS_NAMES[status] ?? String(status)}`,
    `user=${port.user_name}`,
    `database=${port.database_name}`,
    `host=${port.remote_host}`,
    `ssl=${port.ssl_in_use ? 'on' : 'off'}`,
    `hba=${hba}`,
    `application_name=${port.application_name ?? ''}`,
  ].join(' ');
}

export const auditLog: ExtensionModule = {
  name: 'audit_log',
  _PG_init(ctx: ExtensionContext): void {
    ctx.gucs.defineCustomStringVariable('audit_log.file', { description: 'Also append audit lines to this file.', boot: '', context: 'sighup' });
    ctx.gucs.markPrefixReserved('audit_log');
    const previous = ctx.hooks.ClientAuthentication_hook;
    ctx.hooks.ClientAuthentication_hook = async (port, status) => {
      const line = auditLine(port, status, ctx.now());
      ctx.elog('LOG', `audit: ${line}`);
      const file = ctx.gucs.getString('audit_log.file');
      if (file) appendFileSync(file, `${line}\n`);
      if (previous) await previous(port, status);
    };
  },
};

export const _PG_init = auditLog._PG_init;
