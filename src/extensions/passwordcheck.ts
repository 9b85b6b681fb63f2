/**
 * contrib/passwordcheck (PostgreSQL 15): a check_password_hook that refuses weak passwords in
 * CREATE/ALTER ROLE. A clear-text password must be at least 8 bytes, must not contain the role
 * name and must mix letters and non-letters (ASCII letters; any other byte is a non-letter). An
 * already-encrypted password can only be checked against the role name itself. Every refusal
 * is ERROR 22023. Built without cracklib, like Debian's passwordcheck.so. (17 adds the
 * passwordcheck.min_password_length GUC; 15 has no GUC.)
 */
import type { ExtensionContext, ExtensionModule } from './extension.js';
import { PASSWORD_TYPE_PLAINTEXT } from '../hooks/hook.js';
import { plainCryptVerify } from '../auth/secrets.js';

/** MIN_PWD_LENGTH */
const MIN_PWD_LENGTH = 8;

export const passwordcheck: ExtensionModule = {
  name: 'passwordcheck',
  _PG_init(ctx: ExtensionContext): void {
    const previous = ctx.hooks.check_password_hook;
    ctx.hooks.check_password_hook = (username, shadow_pass, password_type, validuntil_time, validuntil_null) => {
      if (previous) previous(username, shadow_pass, password_type, validuntil_time, validuntil_null);
      const refuse = (message: string): never => ctx.ereport('ERROR', ctx.errcode('22023'), ctx.errmsg(message));
      if (password_type !== PASSWORD_TYPE_PLAINTEXT) {
        // Only a guess is possible: is the secret the one the role name itself would give?
        if (plainCryptVerify(username, shadow_pass, username).ok) refuse('password must not equal user name');
        return;
      }
      // strlen/strstr/isalpha in C work on bytes.
      const pwd = Buffer.from(shadow_pass, 'utf8');
      if (pwd.length < MIN_PWD_LENGTH) refuse('password is too short');
      if (pwd.includes(Buffer.from(username, 'utf8'))) refuse('password must not contain user name');
      let hasLetter = false;
      let hasNonLetter = false;
      for (const b of pwd) {
        if ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)) hasLetter = true;
        else hasNonLetter = true;
      }
      if (!hasLetter || !hasNonLetter) refuse('password must contain both letters and nonletters');
    };
  },
};
