/**
 * ClientAuthentication (auth.c): find the pg_hba.conf line, run its method,
 * call ClientAuthentication_hook with the status, then tell the client.
 */
import { match } from 'ts-pattern';
import { PgError } from '../errors.js';
import type { ClientConnection } from '../connection.js';
import { ProcExit } from '../server/exits.js';
import { checkHba, hbaMatchDetail, type HbaLine } from '../hba/index.js';
import { snapshotPort } from '../port.js';
import { STATUS_EOF, STATUS_OK, statusName, type Status } from '../hooks/status.js';
import { checkPasswordAuth, checkPWChallengeAuth } from './password-auth.js';
import { checkCertAuth } from './cert-auth.js';
import type { AuthResult } from './result.js';

/** PerformAuthentication (postinit.c): ClientAuthentication, then the `connection authorized` line. */
export async function performAuthentication(be: ClientConnection): Promise<void> {
  await clientAuthentication(be);
  const port = be.port;
  be.emit({
    type: 'connection-authorized',
    user: port.user_name,
    database: port.database_name,
    applicationName: port.application_name,
    ssl: port.ssl_in_use ? { protocol: port.ssl_protocol ?? '', cipher: port.ssl_cipher ?? '', bits: be.tlsBits() } : null,
  });
}

export async function clientAuthentication(be: ClientConnection): Promise<void> {
  const port = be.port;
  const line = checkHba(be.ctx.hba, {
    isLocal: false,
    sslInUse: port.ssl_in_use,
    gssEncInUse: port.gss_enc,
    remoteAddress: port.remote_host,
    database: port.database_name,
    user: port.user_name,
    isReplication: false,
  }, { roles: be.ctx.roles });

  if (line.method === 'implicit-reject') {
    be.emit({ type: 'hba-no-match' });
    be.checkForInterrupts();
    throw new PgError({
      severity: 'FATAL', sqlstate: '28000',
      message: `no pg_hba.conf entry for host "${port.remote_host}", user "${port.user_name}", database "${port.database_name}", ${encryptionName(be)}`,
      file: 'auth.c', line: 544, routine: 'ClientAuthentication',
    });
  }
  const hba = line as HbaLine;
  port.hba = { source_file: hba.sourceFile, line_number: hba.lineNumber, raw_line: hba.rawLine, auth_method: hba.method };
  be.emit({ type: 'hba-matched', lineNumber: hba.lineNumber, rawLine: hba.rawLine, method: hba.method });
  be.checkForInterrupts();

  // The client certificate must be there before any method runs; no hook is called if it is not.
  const clientcert = hba.method === 'cert' ? 'verify-full' : hba.options.clientcert;
  if (clientcert) {
    if (!be.settings.tls?.ca) {
      throw new PgError({
        severity: 'FATAL', sqlstate: 'F0000',
        message: 'client certificates can only be checked if a root certificate store is available',
        file: 'auth.c', line: 417, routine: 'ClientAuthentication',
      });
    }
    if (!port.peer_cert_valid) {
      throw new PgError({
        severity: 'FATAL', sqlstate: '28000',
        message: 'connection requires a valid client certificate',
        file: 'auth.c', line: 428, routine: 'ClientAuthentication',
      });
    }
  }

  let result: AuthResult = await match(hba.method)
    .with('reject', (): Promise<AuthResult> => {
      throw new PgError({
        severity: 'FATAL', sqlstate: '28000',
        message: `pg_hba.conf rejects connection for host "${port.remote_host}", user "${port.user_name}", database "${port.database_name}", ${encryptionName(be)}`,
        file: 'auth.c', line: 476, routine: 'ClientAuthentication',
      });
    })
    .with('trust', 'cert', async (): Promise<AuthResult> => ({ status: STATUS_OK }))
    .with('password', () => checkPasswordAuth(be))
    .with('md5', 'scram-sha-256', () => checkPWChallengeAuth(be, hba.method as 'md5' | 'scram-sha-256'))
    .otherwise((m) => {
      throw new PgError({
        severity: 'FATAL', sqlstate: '0A000',
        message: `pg-authsim does not simulate authentication method "${m}"`,
        hint: 'Supported methods: trust, reject, password, md5, scram-sha-256, cert.',
        routine: 'ClientAuthentication',
      });
    });

  if ((result.status === STATUS_OK && clientcert === 'verify-full') || hba.method === 'cert') {
    result = checkCertAuth(be, hba, result);
  }

  // 17 logs trust (and any method that never set an identity) here, since set_authn_id() did not.
  if (be.settings.serverMajor >= 17 && result.status === STATUS_OK && be.port.authn_id === null) {
    be.emit({ type: 'authenticated', identity: port.user_name, method: hba.method, hbaFile: hba.sourceFile, lineNumber: hba.lineNumber, form: 'user' });
  }

  await callHook(be, result.status);

  if (result.status === STATUS_OK) {
    be.send({ type: 'AuthenticationOk' });
    // Held back like PostgreSQL's pq buffer; goes out with ParameterStatus.
    return;
  }
  authFailed(be, hba, result);
}

/**
 * ClientAuthentication_hook(port, status). An error thrown by a hook ends the
 * connection like ereport(ERROR) during authentication: promoted to FATAL.
 */
async function callHook(be: ClientConnection, status: Status): Promise<void> {
  const hook = be.ctx.clientAuthenticationHook();
  if (hook) {
    try {
      await hook(snapshotPort(be.port), status);
    } catch (err) {
      if (err instanceof PgError) throw new PgError({ ...err.fields, severity: err.severity === 'ERROR' ? 'FATAL' : err.severity });
      throw new PgError({ severity: 'FATAL', sqlstate: 'XX000', message: err instanceof Error ? err.message : String(err) });
    }
  }
  be.emit({ type: 'auth-outcome', status: statusName(status), method: be.port.hba?.auth_method ?? '' });
  // A hook that outlived authentication_timeout on the success path meets the timeout now.
  if (status === STATUS_OK) be.checkForInterrupts();
}

function encryptionName(be: ClientConnection): string {
  return be.port.gss_enc ? 'GSS encryption' : be.port.ssl_in_use ? 'SSL encryption' : 'no encryption';
}

/** auth_failed(): EOF exits quietly; anything else is a FATAL whose DETAIL only the log sees. */
function authFailed(be: ClientConnection, hba: HbaLine, result: AuthResult): never {
  if (result.status === STATUS_EOF) throw new ProcExit('eof');
  const user = be.port.user_name;
  const [message, sqlstate] = match<string, [string, string]>(hba.method)
    .with('reject', () => [`authentication failed for user "${user}": host rejected`, '28000'])
    .with('trust', () => [`"trust" authentication failed for user "${user}"`, '28000'])
    .with('ident', () => [`Ident authentication failed for user "${user}"`, '28000'])
    .with('peer', () => [`Peer authentication failed for user "${user}"`, '28000'])
    .with('password', 'md5', 'scram-sha-256', () => [`password authentication failed for user "${user}"`, '28P01'])
    .with('gss', () => [`GSSAPI authentication failed for user "${user}"`, '28000'])
    .with('sspi', () => [`SSPI authentication failed for user "${user}"`, '28000'])
    .with('pam', () => [`PAM authentication failed for user "${user}"`, '28000'])
    .with('bsd', () => [`BSD authentication failed for user "${user}"`, '28000'])
    .with('ldap', () => [`LDAP authentication failed for user "${user}"`, '28000'])
    .with('cert', () => [`certificate authentication failed for user "${user}"`, '28000'])
    .with('radius', () => [`RADIUS authentication failed for user "${user}"`, '28000'])
    .otherwise(() => [`authentication failed for user "${user}": invalid authentication method`, '28000']);
  const matched = hbaMatchDetail(hba, be.settings.serverMajor);
  throw new PgError({
    severity: 'FATAL', sqlstate, message,
    detailLog: result.logdetail ? `${result.logdetail}\n${matched}` : matched,
    file: 'auth.c', line: 334, routine: 'auth_failed',
  });
}


