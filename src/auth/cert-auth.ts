/** CheckCertAuth (auth.c): the certificate's CN (or DN) must name the user. */
import type { ClientConnection } from '../connection.js';
import type { HbaLine } from '../hba/index.js';
import { STATUS_ERROR, STATUS_OK } from '../hooks/status.js';
import type { AuthResult } from './result.js';

export function checkCertAuth(be: ClientConnection, hba: HbaLine, previous: AuthResult): AuthResult {
  const port = be.port;
  const useDN = hba.options.clientname === 'DN';
  const peerName = useDN ? port.peer_dn : port.peer_cn;
  if (!peerName) {
    be.log('LOG', `certificate authentication failed for user "${port.user_name}": client certificate contains no user name`);
    return { status: STATUS_ERROR };
  }
  // For cert, the whole subject DN is the authenticated identity, even when only the CN is compared.
  if (hba.method === 'cert') be.setAuthnId(port.peer_dn ?? peerName);
  if (hba.options.map) {
    be.log('LOG', `no match in usermap "${hba.options.map}" for user "${port.user_name}" authenticated as "${peerName}"`);
    return { status: STATUS_ERROR };
  }
  if (peerName === port.user_name) return hba.method === 'cert' ? { status: STATUS_OK } : previous;
  be.log('LOG', `provided user name (${port.user_name}) and authenticated user name (${peerName}) do not match`);
  if (hba.options.clientcert === 'verify-full' && hba.method !== 'cert') {
    be.log('LOG', `certificate validation (clientcert=verify-full) failed for user "${port.user_name}": ${useDN ? 'DN' : 'CN'} mismatch`);
  }
  return { status: STATUS_ERROR };
}
