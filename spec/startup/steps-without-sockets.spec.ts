/**
 * The steps of a backend take a ClientConnection, not a Backend: here they
 * run against a scripted handle with no socket, no server and no process
 * object, message by message.
 */
import { expect } from 'chai';
import { ScriptedConnection } from '../support/scripted-connection.js';
import { processStartupPacket } from '../../src/startup/process-startup-packet.js';
import { checkPasswordAuth } from '../../src/auth/password-auth.js';
import { checkSASLAuth } from '../../src/auth/sasl.js';
import { clientAuthentication } from '../../src/auth/client-authentication.js';
import { encodeFrontend } from '../../src/wire/codec.js';
import { PgError } from '../../src/errors.js';
import { ProcExit } from '../../src/server/exits.js';
import { ScramClient } from '../../src/auth/scram-client.js';
import { SeededRandom } from '../../src/random.js';
import { STATUS_EOF, STATUS_ERROR, STATUS_OK } from '../../src/hooks/status.js';
import type { BackendMessage } from '../../src/wire/messages.js';

const startup = (params: Array<[string, string]>, minor = 0) =>
  encodeFrontend({ type: 'StartupMessage', protocolVersion: { major: 3, minor }, params });
const password = (pw: string) => encodeFrontend({ type: 'PasswordMessage', password: pw });

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try { await p; } catch (err) { return err; }
  throw new Error('expected the step to fail');
}

describe('steps against a scripted connection (no sockets)', () => {
  describe('processStartupPacket', () => {
    it('fills in the Port from a StartupMessage and sends nothing', async () => {
      const be = new ScriptedConnection().input(startup([['user', 'test'], ['database', 'postgres'], ['application_name', 'app']]));
      await processStartupPacket(be);
      expect(be.port.user_name).to.equal('test');
      expect(be.port.database_name).to.equal('postgres');
      expect(be.port.application_name).to.equal('app');
      expect(be.port.guc_options).to.deep.equal([['application_name', 'app']]);
      expect(be.sent).to.deep.equal([]);
      expect(be.eventTypes()).to.deep.equal(['startup-packet']);
    });

    it('answers SSLRequest with N when ssl is off, then reads the StartupMessage', async () => {
      const be = new ScriptedConnection({ settings: { ssl: false } }).input(encodeFrontend({ type: 'SSLRequest' }));
      const done = processStartupPacket(be);
      await new Promise((r) => setImmediate(r));
      expect(be.sent).to.deep.equal([{ type: 'EncryptionResponse', answer: 'N' }]);
      be.input(startup([['user', 'test']]));
      await done;
      expect(be.port.database_name).to.equal('test');
    });

    it('refuses a StartupMessage pipelined behind an SSLRequest (CVE-2021-23214)', async () => {
      const be = new ScriptedConnection().input(Buffer.concat([encodeFrontend({ type: 'SSLRequest' }), startup([['user', 'test']])]));
      const err = await rejection(processStartupPacket(be));
      expect(err).to.be.instanceOf(PgError);
      expect((err as PgError).fields.message).to.equal('received unencrypted data after SSL request');
    });

    it('reports an oversized length word as a COMMERROR without reading a body', async () => {
      const len = Buffer.alloc(4);
      len.writeInt32BE(10005);
      const be = new ScriptedConnection().input(len);
      const err = await rejection(processStartupPacket(be));
      expect(err).to.be.instanceOf(ProcExit);
      expect(be.events).to.deep.equal([{ type: 'error', error: { severity: 'LOG', sqlstate: '08P01', message: 'invalid length of startup packet' }, toClient: false, toLog: true }]);
    });

    it('ends quietly when the client hangs up before a byte', async () => {
      const be = new ScriptedConnection().hangUp();
      const err = await rejection(processStartupPacket(be));
      expect(err).to.be.instanceOf(ProcExit);
      expect((err as ProcExit).reason).to.equal('eof');
      expect(be.events).to.deep.equal([]);
    });
  });

  describe('authentication methods', () => {
    it('password: asks, compares, sets authn_id', async () => {
      const be = new ScriptedConnection({ respond: (sent, c) => { if (sent[0]?.type === 'AuthenticationCleartextPassword') c.input(password('secret')); } });
      be.port.user_name = 'test';
      const result = await checkPasswordAuth(be);
      expect(result).to.deep.equal({ status: STATUS_OK });
      expect(be.sent.map((m) => m.type)).to.deep.equal(['AuthenticationCleartextPassword']);
      expect(be.port.authn_id).to.equal('test');
    });

    it('password: a wrong one fails with the log-only detail', async () => {
      const be = new ScriptedConnection().input(password('wrong'));
      be.port.user_name = 'test';
      const result = await checkPasswordAuth(be);
      expect(result.status).to.equal(STATUS_ERROR);
      expect(result.logdetail).to.equal('Password does not match for user "test".');
      expect(be.port.authn_id).to.equal(null);
    });

    it('password: the client hanging up is STATUS_EOF', async () => {
      const be = new ScriptedConnection().hangUp();
      be.port.user_name = 'test';
      expect((await checkPasswordAuth(be)).status).to.equal(STATUS_EOF);
    });

    it('SCRAM: a whole exchange, the client answering each server message', async () => {
      const client = new ScramClient({ password: 'secret', mechanism: 'SCRAM-SHA-256', sslInUse: false, channelBinding: 'disable', random: new SeededRandom(3) });
      const be = new ScriptedConnection({
        respond: (sent: BackendMessage[], c) => {
          const m = sent.at(-1)!;
          if (m.type === 'AuthenticationSASL') c.input(encodeFrontend({ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: client.clientFirst() }));
          if (m.type === 'AuthenticationSASLContinue') c.input(encodeFrontend({ type: 'SASLResponse', data: client.serverFirst(m.data) }));
        },
      });
      be.port.user_name = 'test';
      const secret = be.ctx.roles.get('test')!.secret!;
      const result = await checkSASLAuth(be, secret);
      expect(result).to.deep.equal({ status: STATUS_OK });
      expect(be.sent.map((m) => m.type)).to.deep.equal(['AuthenticationSASL', 'AuthenticationSASLContinue']);
      // SASLFinal waits unflushed for AuthenticationOk, after the hook.
      expect(be.unflushed.map((m) => m.type)).to.deep.equal(['AuthenticationSASLFinal']);
    });

    it('ClientAuthentication: the hook sees the status, then the FATAL names the user', async () => {
      const calls: number[] = [];
      const be = new ScriptedConnection({ hba: 'host all all 127.0.0.1/32 password\n', hook: (_port, status) => { calls.push(status); } }).input(password('nope'));
      be.port.user_name = 'test';
      be.port.database_name = 'postgres';
      const err = await rejection(clientAuthentication(be));
      expect(calls).to.deep.equal([STATUS_ERROR]);
      expect((err as PgError).fields).to.include({ sqlstate: '28P01', message: 'password authentication failed for user "test"' });
    });

    it('ClientAuthentication: a wait that the handle interrupts ends with its error', async () => {
      const be = new ScriptedConnection({ hba: 'host all all 127.0.0.1/32 password\n' });
      be.port.user_name = 'test';
      be.port.database_name = 'postgres';
      const pending = rejection(clientAuthentication(be));
      await new Promise((r) => setImmediate(r));
      be.timeOut();
      const err = await pending;
      expect((err as PgError).fields.sqlstate).to.equal('57014');
    });
  });
});
