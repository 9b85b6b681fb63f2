import { expect } from 'chai';
import { encodeFrontend } from '../../src/wire/codec.js';
import { WireClient } from '../support/wire-client.js';
import { makeServer } from '../support/fixtures.js';
import { ScramClient } from '../../src/auth/scram-client.js';
import { SeededRandom } from '../../src/random.js';

const startup = (params: Record<string, string>, minor = 0) =>
  encodeFrontend({ type: 'StartupMessage', protocolVersion: { major: 3, minor }, params: Object.entries(params) });

describe('startup over the in-memory transport', () => {
  it('trust: AuthenticationOk, ParameterStatus set, BackendKeyData, ReadyForQuery', async () => {
    const { server } = makeServer({ hba: 'host all all 127.0.0.1/32 trust' });
    const c = WireClient.memory(server);
    c.send(startup({ user: 'test', database: 'postgres', application_name: 'spec' }));
    const msgs = await c.until('readyForQuery');
    const names = msgs.map((m) => m.name);
    expect(names[0]).to.equal('authenticationOk');
    expect(names.at(-1)).to.equal('readyForQuery');
    const params = Object.fromEntries(msgs.filter((m) => m.name === 'parameterStatus').map((m) => [m.parameterName, m.parameterValue]));
    expect(Object.keys(params)).to.deep.equal([
      'application_name', 'client_encoding', 'DateStyle', 'default_transaction_read_only', 'in_hot_standby',
      'integer_datetimes', 'IntervalStyle', 'is_superuser', 'server_encoding', 'server_version',
      'session_authorization', 'standard_conforming_strings', 'TimeZone',
    ]);
    expect(params.application_name).to.equal('spec');
    expect(params.session_authorization).to.equal('test');
    c.send(encodeFrontend({ type: 'Query', sql: 'SELECT current_user' }));
    const rows = await c.until('readyForQuery');
    const dataRow = rows.find((m) => m.name === 'dataRow');
    expect(dataRow?.fields).to.deep.equal(['test']);
    c.send(encodeFrontend({ type: 'Terminate' }));
    await c.closedPromise;
    await server.idle();
  });

  it('scram-sha-256 with the right password', async () => {
    const { server, events } = makeServer({ hba: 'host all all 127.0.0.1/32 scram-sha-256' });
    const c = WireClient.memory(server);
    c.send(startup({ user: 'test', database: 'postgres' }));
    const sasl = await c.next();
    expect(sasl?.name).to.equal('authenticationSASL');
    expect(sasl?.mechanisms).to.deep.equal(['SCRAM-SHA-256']);
    const client = new ScramClient({ password: 'secret', mechanism: 'SCRAM-SHA-256', sslInUse: false, random: new SeededRandom(3) });
    c.send(encodeFrontend({ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: client.clientFirst() }));
    const cont = await c.next();
    expect(cont?.name).to.equal('authenticationSASLContinue');
    c.send(encodeFrontend({ type: 'SASLResponse', data: client.serverFirst(Buffer.from(cont!.data as string)) }));
    const rest = await c.until('readyForQuery');
    expect(rest[0]?.name).to.equal('authenticationSASLFinal');
    expect(rest[1]?.name).to.equal('authenticationOk');
    c.destroy();
    await server.idle();
    expect(events.map((e) => e.type)).to.include.members(['hba-matched', 'authenticated', 'auth-outcome', 'session-started']);
  });

  it('scram-sha-256 with a wrong password: FATAL 28P01 without DETAIL to the client', async () => {
    const { server, events } = makeServer({ hba: 'host all all 127.0.0.1/32 scram-sha-256' });
    const c = WireClient.memory(server);
    c.send(startup({ user: 'test', database: 'postgres' }));
    await c.next();
    const client = new ScramClient({ password: 'wrong', mechanism: 'SCRAM-SHA-256', sslInUse: false, random: new SeededRandom(3) });
    c.send(encodeFrontend({ type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: client.clientFirst() }));
    const cont = await c.next();
    c.send(encodeFrontend({ type: 'SASLResponse', data: client.serverFirst(Buffer.from(cont!.data as string)) }));
    const rest = await c.drain();
    expect(rest).to.have.length(1);
    expect(rest[0]).to.include({ name: 'error', severity: 'FATAL', code: '28P01', message: 'password authentication failed for user "test"' });
    expect(rest[0]?.detail).to.equal(undefined);
    await server.idle();
    const err = events.find((e) => e.type === 'error');
    expect(err && err.type === 'error' && err.error.detailLog).to.equal('Connection matched pg_hba.conf line 1: "host all all 127.0.0.1/32 scram-sha-256"');
  });
});
