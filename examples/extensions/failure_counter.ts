// failure_counter: counts failed logins per role. The smallest useful hook, used in the README.
import type { ExtensionModule } from 'pg-authsim';

export const failures = new Map<string, number>();

export const failureCounter: ExtensionModule = {
  name: 'failure_counter',
  _PG_init(ctx) {
    const previous = ctx.hooks.ClientAuthentication_hook;
    ctx.hooks.ClientAuthentication_hook = async (port, status) => {
      if (previous) await previous(port, status);
      if (status !== 0) failures.set(port.user_name, (failures.get(port.user_name) ?? 0) + 1);
    };
  },
};
