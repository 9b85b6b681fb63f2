/**
 * The client half of authentication: pg_fe_sendauth() and check_expected_areq() of
 * libpq's fe-auth.c, for the versions modelled. Pure: given an AuthenticationRequest it
 * returns the messages to send or libpq's error text; the caller does the I/O.
 */
import type { Random } from '../../random.js';
import { ScramClient, ScramClientError, selectSaslMechanism } from './scram-client.js';
import { SCRAM_SHA_256_PLUS_NAME } from '../../common/scram-common.js';
import { md5ClientResponse } from '../../common/md5.js';
import { encodeFrontend, type FrontendMessage } from '../../wire/codec.js';
import type { ConnOptions } from '../conninfo.js';
import { NO_PASSWORD_SUPPLIED } from './messages.js';

export const AUTH_REQ = {
  OK: 0, KRB4: 1, KRB5: 2, PASSWORD: 3, CRYPT: 4, MD5: 5, SCM_CREDS: 6, GSS: 7, GSS_CONT: 8, SSPI: 9,
  SASL: 10, SASL_CONT: 11, SASL_FIN: 12,
} as const;

export interface ChannelInfo {
  sslInUse: boolean;
  /** tls-server-end-point hash of the server certificate, when SSL is in use. */
  tlsServerEndPoint: Buffer | null;
  /** 16's sslcertmode=require: whether a client certificate went out in the handshake. */
  clientCertSent: boolean;
}

export type AuthStep =
  | { ok: true; send: Buffer[] }
  | { ok: false; error: string };

/** md5 + md5hex(md5hex(password ‖ user) ‖ salt), as pg_password_sendauth builds it. */
export function md5PasswordResponse(password: string, user: string, salt: Buffer): string {
  return md5ClientResponse(user, password, salt);
}

/**
 * One connection's authentication state (the fields of PGconn that fe-auth.c uses). A new
 * one per TCP connection, as pqDropServerData() resets them.
 */
export class AuthExchange {
  /** PGconn.password_needed: the server asked for a password, whether or not we had one. */
  passwordNeeded = false;
  /** 16: the client finished an exchange that proves it knows the secret. */
  clientFinishedAuth = false;
  private scram: ScramClient | null = null;
  /** Non-fatal remarks libpq appends to errorMessage (SCRAM garbage warnings). */
  readonly notes: string[] = [];
  /** The mechanisms the server offered in AuthenticationSASL (for the trace). */
  saslOffered: string[] | null = null;

  constructor(
    private readonly opts: ConnOptions,
    /** The password for this host: from the passfile, else the password option. */
    private readonly password: string | null,
    private readonly random: Random,
  ) {}

  private frames(...msgs: FrontendMessage[]): Buffer[] {
    return msgs.map((m) => encodeFrontend(m));
  }

  /** check_expected_areq(): refuse requests the connection options rule out. */
  private checkExpected(areq: number, ch: ChannelInfo): string | null {
    const o = this.opts;
    if (o.version >= 16) {
      if (o.sslcertmode === 'require' && areq === AUTH_REQ.OK) {
        // The handshake does not tell us whether a certificate was requested; a missing one is what fails here.
        if (!ch.clientCertSent) return 'server accepted connection without a valid SSL certificate';
      }
      const ra = o.requireAuth;
      if (ra) {
        let allowed = true;
        let reason: string | null = null;
        switch (areq) {
          case AUTH_REQ.OK:
            if (ra.authRequired && !this.clientFinishedAuth) {
              reason = 'server did not complete authentication';
              allowed = false;
            }
            break;
          case AUTH_REQ.PASSWORD: case AUTH_REQ.MD5: case AUTH_REQ.GSS: case AUTH_REQ.GSS_CONT: case AUTH_REQ.SSPI:
          case AUTH_REQ.SASL: case AUTH_REQ.SASL_CONT: case AUTH_REQ.SASL_FIN:
            allowed = ra.allowed.has(areq);
            break;
          default:
            allowed = false;
        }
        if (!allowed) return `authentication method requirement "${ra.raw}" failed: ${reason ?? authMethodDescription(areq)}`;
      }
    }
    if (o.channelBinding === 'require') {
      switch (areq) {
        case AUTH_REQ.SASL: case AUTH_REQ.SASL_CONT: case AUTH_REQ.SASL_FIN:
          break;
        case AUTH_REQ.OK:
          if (!this.scram?.channelBound) return 'channel binding required, but server authenticated client without channel binding';
          break;
        default:
          return "channel binding required but not supported by server's authentication request";
      }
    }
    return null;
  }

  /** pg_fe_sendauth(): `payload` is the request body after the Int32 code. */
  handle(areq: number, payload: Buffer, ch: ChannelInfo): AuthStep {
    const refused = this.checkExpected(areq, ch);
    if (refused !== null) return { ok: false, error: refused };
    switch (areq) {
      case AUTH_REQ.OK:
        return { ok: true, send: [] };
      case AUTH_REQ.KRB4:
        return { ok: false, error: 'Kerberos 4 authentication not supported' };
      case AUTH_REQ.KRB5:
        return { ok: false, error: 'Kerberos 5 authentication not supported' };
      case AUTH_REQ.CRYPT:
        return { ok: false, error: 'Crypt authentication not supported' };
      case AUTH_REQ.SCM_CREDS:
        return { ok: false, error: 'SCM_CRED authentication method not supported' };
      case AUTH_REQ.GSS: case AUTH_REQ.GSS_CONT: case AUTH_REQ.SSPI:
        // GSSAPI/SSPI authentication is not modelled: answer as a libpq built without it would.
        return { ok: false, error: areq === AUTH_REQ.SSPI ? 'SSPI authentication not supported' : 'GSSAPI authentication not supported' };
      case AUTH_REQ.MD5:
      case AUTH_REQ.PASSWORD: {
        this.passwordNeeded = true;
        const pw = this.password;
        if (pw === null || pw === '') return { ok: false, error: NO_PASSWORD_SUPPLIED };
        let toSend = pw;
        if (areq === AUTH_REQ.MD5) {
          if (payload.length < 4) return { ok: false, error: 'fe_sendauth: error sending password authentication' };
          toSend = md5PasswordResponse(pw, this.opts.user, payload.subarray(0, 4));
        }
        this.clientFinishedAuth = true;
        return { ok: true, send: this.frames({ type: 'PasswordMessage', password: toSend }) };
      }
      case AUTH_REQ.SASL:
        return this.saslInit(payload, ch);
      case AUTH_REQ.SASL_CONT:
      case AUTH_REQ.SASL_FIN:
        if (!this.scram) {
          return { ok: false, error: 'fe_sendauth: invalid authentication request from server: AUTH_REQ_SASL_CONT without AUTH_REQ_SASL' };
        }
        return this.saslContinue(payload, areq === AUTH_REQ.SASL_FIN);
      default:
        return { ok: false, error: `authentication method ${areq >>> 0} not supported` };
    }
  }

  /** pg_SASL_init() */
  private saslInit(payload: Buffer, ch: ChannelInfo): AuthStep {
    const o = this.opts;
    if (o.channelBinding === 'require' && !ch.sslInUse) return { ok: false, error: 'channel binding required, but SSL not in use' };
    if (this.scram) return { ok: false, error: 'duplicate SASL authentication request' };
    const mechanisms: string[] = [];
    let at = 0;
    for (;;) {
      const nul = payload.indexOf(0, at);
      if (nul < 0) {
        return { ok: false, error: 'fe_sendauth: invalid authentication request from server: invalid list of authentication mechanisms' };
      }
      const name = payload.toString('utf8', at, nul);
      at = nul + 1;
      if (name === '') break;
      mechanisms.push(name);
    }
    this.saslOffered = mechanisms;
    let mechanism: string;
    try {
      // Selection itself is the same for prefer and require; libpq checks require afterwards with its own words.
      mechanism = selectSaslMechanism(mechanisms, {
        sslInUse: ch.sslInUse, channelBinding: o.channelBinding === 'disable' ? 'disable' : 'prefer',
      });
    } catch (err) {
      if (err instanceof ScramClientError) return { ok: false, error: err.message };
      throw err;
    }
    if (o.channelBinding === 'require' && mechanism !== SCRAM_SHA_256_PLUS_NAME) {
      return { ok: false, error: 'channel binding is required, but server did not offer an authentication method that supports channel binding' };
    }
    this.passwordNeeded = true;
    const pw = this.password;
    if (pw === null || pw === '') return { ok: false, error: NO_PASSWORD_SUPPLIED };
    this.scram = new ScramClient({
      password: pw,
      mechanism,
      sslInUse: ch.sslInUse,
      channelBinding: o.channelBinding,
      ...(ch.tlsServerEndPoint ? { tlsServerEndPoint: ch.tlsServerEndPoint } : {}),
      random: this.random,
    });
    const first = this.scram.clientFirst();
    return { ok: true, send: this.frames({ type: 'SASLInitialResponse', mechanism, data: first }) };
  }

  /** pg_SASL_continue(): server-first, then server-final. */
  private saslContinue(payload: Buffer, final: boolean): AuthStep {
    const scram = this.scram!;
    const seen = scram.notes.length;
    const collectNotes = () => { this.notes.push(...scram.notes.slice(seen)); };
    try {
      if (!this.proofSent) {
        const reply = scram.serverFirst(payload);
        this.proofSent = true;
        collectNotes();
        // libpq drops the client-final it just built.
        if (final) return { ok: false, error: 'AuthenticationSASLFinal received from server, but SASL authentication was not completed' };
        return { ok: true, send: this.frames({ type: 'SASLResponse', data: reply }) };
      }
      scram.serverFinal(payload);
      collectNotes();
      this.clientFinishedAuth = true;
      return { ok: true, send: [] };
    } catch (err) {
      collectNotes();
      if (err instanceof ScramClientError) return { ok: false, error: err.message };
      throw err;
    }
  }

  private proofSent = false;

  /** The SASL mechanism chosen, once there is one. */
  get mechanism(): string | null {
    return this.scram?.mechanism ?? null;
  }
}

/** auth_method_description() (16) */
function authMethodDescription(areq: number): string {
  switch (areq) {
    case AUTH_REQ.PASSWORD: return 'server requested a cleartext password';
    case AUTH_REQ.MD5: return 'server requested a hashed password';
    case AUTH_REQ.GSS: case AUTH_REQ.GSS_CONT: return 'server requested GSSAPI authentication';
    case AUTH_REQ.SSPI: return 'server requested SSPI authentication';
    case AUTH_REQ.SASL: case AUTH_REQ.SASL_CONT: case AUTH_REQ.SASL_FIN: return 'server requested SASL authentication';
    default: return 'server requested an unknown authentication type';
  }
}
