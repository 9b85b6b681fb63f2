/**
 * login_counter: per-role counts of ClientAuthentication_hook outcomes, kept the way a C
 * extension keeps them — in shared memory set up by shmem_startup_hook — shown through a
 * view, reset by a function, and written to the log when the server shuts down.
 *
 * Nothing lives in module variables: everything hangs off the context _PG_init receives,
 * so two servers in one process (two TestClusters, parallel specs) never share counts, and
 * every server start begins at zero, as fresh shared memory does.
 */
import type { ExtensionContext, ExtensionModule } from 'pg-authsim';

interface Counts { oid: number; name: string; ok: number; failed: number; eof: number }

export const loginCounter: ExtensionModule = {
  name: 'login_counter',
  _PG_init(ctx: ExtensionContext): void {
    if (!ctx.process_shared_preload_libraries_in_progress) {
      ctx.ereport('ERROR', ctx.errcode('55000'), ctx.errmsg('login_counter must be loaded via "shared_preload_libraries"'));
    }
    let counts: Map<number, Counts> | null = null;

    const prevRequest = ctx.hooks.shmem_request_hook;
    ctx.hooks.shmem_request_hook = () => {
      prevRequest?.();
      ctx.RequestAddinShmemSpace(64 * 1024);
    };
    const prevStartup = ctx.hooks.shmem_startup_hook;
    ctx.hooks.shmem_startup_hook = () => {
      prevStartup?.();
      const { map, found } = ctx.ShmemInitHash<number, Counts>('login_counter hash');
      counts = map;
      // The postmaster writes the table to the log as it exits, like pg_auth_mon.
      if (!found) ctx.on_shmem_exit(() => {
        for (const c of counts!.values()) ctx.elog('LOG', 'login_counter: %s ok=%d failed=%d eof=%d', c.name, c.ok, c.failed, c.eof);
      });
    };

    const prev = ctx.hooks.ClientAuthentication_hook;
    ctx.hooks.ClientAuthentication_hook = async (port, status) => {
      if (prev) await prev(port, status);
      // Unknown roles are grouped under InvalidOid, as get_role_oid(name, true) gives.
      const oid = ctx.get_role_oid(port.user_name, true);
      const entry = counts!.get(oid) ?? { oid, name: oid === 0 ? '(unknown)' : port.user_name, ok: 0, failed: 0, eof: 0 };
      if (status === 0) entry.ok++;
      else if (status === -2) entry.eof++;
      else entry.failed++;
      counts!.set(oid, entry);
    };

    ctx.sql.defineView({
      name: 'login_counter',
      columns: [
        { name: 'usesysid', type: 'oid' }, { name: 'rolname', type: 'name' },
        { name: 'ok', type: 'int8' }, { name: 'failed', type: 'int8' }, { name: 'eof', type: 'int8' },
      ],
      select: 'public',
      rows: () => [...counts!.values()].sort((a, b) => a.oid - b.oid).map((c) => [c.oid, c.name, c.ok, c.failed, c.eof]),
    });
    ctx.sql.defineFunction({
      name: 'login_counter_reset', args: [], returns: 'void',
      call: () => { counts!.clear(); return null; },
    });
  },
};

export const _PG_init = loginCounter._PG_init;
