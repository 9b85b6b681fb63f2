/**
 * contrib/auth_delay: after the previous hook has run, sleep
 * auth_delay.milliseconds whenever authentication did not succeed (ERROR and
 * EOF alike), to slow down password guessing.
 */
import type { ExtensionContext, ExtensionModule } from './extension.js';
import { STATUS_OK } from '../hooks/status.js';

const INT_MAX = 2147483647;

export const authDelay: ExtensionModule = {
  name: 'auth_delay',
  _PG_init(ctx: ExtensionContext): void {
    ctx.gucs.defineCustomIntVariable('auth_delay.milliseconds', {
      description: 'Milliseconds to delay before reporting authentication failure.',
      boot: 0,
      min: 0,
      max: Math.floor(INT_MAX / 1000),
      context: 'sighup',
      unit: 'ms',
    });
    ctx.gucs.markPrefixReserved('auth_delay');
    const previous = ctx.hooks.ClientAuthentication_hook;
    ctx.hooks.ClientAuthentication_hook = async (port, status) => {
      if (previous) await previous(port, status);
      if (status !== STATUS_OK) await ctx.pg_usleep(ctx.gucs.getNumber('auth_delay.milliseconds'));
    };
  },
};
