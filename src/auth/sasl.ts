/**
 * CheckSASLAuth (auth-sasl.c) driving the SCRAM mechanism: advertise the
 * mechanisms, then shuttle SASLInitialResponse/SASLResponse messages.
 */
import { PgError } from '../errors.js';
import type { ClientConnection } from '../connection.js';
import { STATUS_EOF, STATUS_ERROR, STATUS_OK } from '../hooks/status.js';
import { parseSASLInitialResponse, PG_MAX_SASL_MESSAGE_LENGTH } from '../wire/codec.js';
import { recvAuthMessage } from './recv.js';
import { SCRAM_ERROR_SITES, ScramServerExchange, saslMechanisms } from './scram.js';
import { SCRAM_SHA_256_NAME, SCRAM_SHA_256_PLUS_NAME } from '../common/scram-common.js';
import type { AuthResult } from './result.js';


export async function checkSASLAuth(be: ClientConnection, secret: string | null): Promise<AuthResult> {
  const port = be.port;
  be.sendAuthRequest({ type: 'AuthenticationSASL', mechanisms: saslMechanisms(port.ssl_in_use) });
  let exchange: ScramServerExchange | null = null;
  for (;;) {
    const read = await recvAuthMessage(be, PG_MAX_SASL_MESSAGE_LENGTH, (type) => new PgError({
      severity: 'FATAL', sqlstate: '08P01',
      message: `expected SASL response, got message type ${type}`,
      file: 'auth-sasl.c', line: 95, routine: 'CheckSASLAuth',
    }));
    if (read.kind === 'eof') return { status: STATUS_EOF };
    // Oversized or truncated SASL messages fail authentication (the hook sees ERROR), unlike password packets.
    if (read.kind === 'framing-error') return { status: STATUS_ERROR };
    const body = read.body;

    let input: Buffer | null;
    if (exchange === null) {
      const initial = parseSASLInitialResponse(body, (mech) => checkMechanism(mech, port.ssl_in_use));
      be.emit({ type: 'auth-response', message: `SASLInitialResponse(${initial.mechanism})` });
      exchange = new ScramServerExchange({
        user: port.user_name,
        secret,
        selectedMechanism: initial.mechanism,
        sslInUse: port.ssl_in_use,
        tlsServerEndPoint: be.tlsServerEndPoint(),
        mock: { nonce: be.settings.mockAuthNonce },
        random: be.ctx.random,
        iterations: be.settings.scramIterations,
        log: (msg) => be.log('LOG', msg),
      });
      input = initial.data;
    } else {
      be.emit({ type: 'auth-response', message: 'SASLResponse' });
      input = body;
    }

    const step = exchange.exchange(input);
    if (step.outcome === 'continue') {
      be.sendAuthRequest({ type: 'AuthenticationSASLContinue', data: step.output });
      continue;
    }
    if (step.outcome === 'ok') {
      // SASLFinal waits in the buffer for AuthenticationOk, after the hook has run.
      be.sendAuthRequest({ type: 'AuthenticationSASLFinal', data: step.output });
      return { status: STATUS_OK };
    }
    return step.logdetail ? { status: STATUS_ERROR, logdetail: step.logdetail } : { status: STATUS_ERROR };
  }
}

/** scram_init's mechanism test, which PostgreSQL applies before reading the rest of SASLInitialResponse. */
function checkMechanism(mechanism: string, sslInUse: boolean): void {
  if (mechanism === SCRAM_SHA_256_NAME || (mechanism === SCRAM_SHA_256_PLUS_NAME && sslInUse)) return;
  const site = SCRAM_ERROR_SITES.invalidMechanism;
  throw new PgError({ severity: 'FATAL', sqlstate: site.sqlstate, message: site.message, file: 'auth-scram.c', line: site.line, routine: site.routine });
}
