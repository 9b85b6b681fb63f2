/**
 * The server_version knob: what changes on the wire and in the log between
 * 15, 16, 17 and 18. Expected values were read off the real 15.20, 16.14,
 * 17.10 and 18.4 servers (src/conformance/real-server.ts) with the same raw
 * client; the conformance runner diffs whole grids against them.
 */
import { expect } from 'chai';
import * as tls from 'node:tls';
import { TestCluster } from '../../src/testing/index.js';
import { encodeFrontend } from '../../src/wire/codec.js';
import { WireClient } from '../support/wire-client.js';
import { login, startupMessage } from '../support/raw-login.js';

const ROLES = "CREATE ROLE test LOGIN PASSWORD 'secret';";

const PARAMETER_ORDER: Record<number, string[]> = {
  15: ['application_name', 'client_encoding', 'DateStyle', 'default_transaction_read_only', 'in_hot_standby', 'integer_datetimes', 'IntervalStyle', 'is_superuser', 'server_encoding', 'server_version', 'session_authorization', 'standard_conforming_strings', 'TimeZone'],
  16: ['in_hot_standby', 'integer_datetimes', 'TimeZone', 'IntervalStyle', 'is_superuser', 'application_name', 'default_transaction_read_only', 'scram_iterations', 'DateStyle', 'standard_conforming_strings', 'session_authorization', 'client_encoding', 'server_version', 'server_encoding'],
  17: ['in_hot_standby', 'integer_datetimes', 'TimeZone', 'IntervalStyle', 'is_superuser', 'application_name', 'default_transaction_read_only', 'scram_iterations', 'DateStyle', 'standard_conforming_strings', 'session_authorization', 'client_encoding', 'server_version', 'server_encoding'],
  18: ['in_hot_standby', 'integer_datetimes', 'TimeZone', 'IntervalStyle', 'search_path', 'is_superuser', 'application_name', 'default_transaction_read_only', 'scram_iterations', 'DateStyle', 'standard_conforming_strings', 'session_authorization', 'client_encoding', 'server_version', 'server_encoding'],
};
const VERSION: Record<number, string> = { 15: '15.20 (Debian 15.20-0+deb12u1)', 16: '16.14', 17: '17.10', 18: '18.4' };
const APP_NAME: Record<number, string> = { 15: 'probe??app', 16: 'probe\\xc3\\xa9app', 17: 'probe\\xc3\\xa9app', 18: 'probe\\xc3\\xa9app' };

describe('server_version: behaving like PostgreSQL 15, 16, 17 and 18', () => {
  let cluster: TestCluster;
  afterEach(() => cluster?.close());

  for (const major of [15, 16, 17, 18]) {
    it(`${major}: ParameterStatus set and order, server_version, application_name cleaning, trust log line`, async () => {
      cluster = await TestCluster.start({ postgresqlConf: { server_version: String(major), log_connections: true }, hba: 'host all all 127.0.0.1/32 trust', roles: ROLES });
      const c = WireClient.memory(cluster.server);
      c.send(startupMessage('test', 'postgres', { application_name: 'probeéapp' }));
      const msgs = await c.until('readyForQuery');
      c.end();
      await cluster.idle();
      const params = msgs.filter((m) => m.name === 'parameterStatus').map((m) => [m.parameterName, m.parameterValue] as [string, string]);
      expect(params.map(([n]) => n)).to.deep.equal(PARAMETER_ORDER[major]);
      const values = Object.fromEntries(params);
      expect(values.server_version).to.equal(VERSION[major]);
      expect(values.application_name).to.equal(APP_NAME[major]);
      const log = cluster.trace.log('');
      const trustLine = `LOG:  connection authenticated: user="test" method=trust (${cluster.dataDirectory}/pg_hba.conf:1)`;
      if (major >= 17) expect(log).to.contain(trustLine);
      else expect(log).not.to.contain('connection authenticated');
      expect(log).to.contain(`connection authorized: user=test database=postgres application_name=${APP_NAME[major]}`);
    });

    it(`${major}: the wrong-password DETAIL names ${major >= 16 ? 'the file' : 'pg_hba.conf'}`, async () => {
      cluster = await TestCluster.start({ postgresqlConf: { server_version: String(major) }, hba: 'host all all 127.0.0.1/32 scram-sha-256', roles: ROLES });
      await login(WireClient.memory(cluster.server), 'test', 'wrong');
      await cluster.idle();
      const detail = cluster.trace.errorsLogged()[0]?.detailLog;
      expect(detail).to.equal(major >= 16
        ? `Connection matched file "${cluster.dataDirectory}/pg_hba.conf" line 1: "host all all 127.0.0.1/32 scram-sha-256"`
        : 'Connection matched pg_hba.conf line 1: "host all all 127.0.0.1/32 scram-sha-256"');
    });
  }

  it('18 speaks protocol 3.2: no NegotiateProtocolVersion for 3.2, a 32-byte cancel key; 15 negotiates down to 3.0', async () => {
    for (const [major, expectNpv, keyLen] of [[18, false, 32], [15, true, 4]] as const) {
      cluster = await TestCluster.start({ postgresqlConf: { server_version: String(major) }, hba: 'host all all 127.0.0.1/32 trust', roles: ROLES });
      const c = WireClient.memory(cluster.server);
      c.send(encodeFrontend({ type: 'StartupMessage', protocolVersion: { major: 3, minor: 2 }, params: [['user', 'test'], ['database', 'postgres']] }));
      await c.until('readyForQuery');
      expect(cluster.server.backends()[0]?.cancelKey.length, 'BackendKeyData key length').to.equal(keyLen);
      c.end();
      await cluster.idle();
      const negotiated = cluster.trace.events.filter((e) => e.type === 'protocol-negotiated');
      expect(negotiated.length > 0, `NegotiateProtocolVersion from ${major}`).to.equal(expectNpv);
      await cluster.close();
    }
  });

  it('17+: direct SSL with ALPN "postgresql" works; 15 reads the ClientHello as a bad length', async () => {
    for (const major of [17, 15]) {
      cluster = await TestCluster.start({ clock: 'real', postgresqlConf: { server_version: String(major), ssl: true }, hba: 'host all all 127.0.0.1/32 trust', roles: ROLES });
      const port = await cluster.listen();
      const sock = tls.connect({ host: '127.0.0.1', port, ALPNProtocols: ['postgresql'], rejectUnauthorized: false });
      const outcome = await new Promise<string>((resolve) => {
        sock.once('secureConnect', () => resolve(`tls ${sock.alpnProtocol}`));
        sock.once('error', (e) => resolve(`error ${(e as Error).message.split('\n')[0]}`));
        sock.once('close', () => resolve('closed'));
      });
      if (major === 17) {
        expect(outcome).to.equal('tls postgresql');
        const c = new WireClient(sock);
        c.send(startupMessage('test'));
        const msgs = await c.until('readyForQuery');
        expect(msgs[0]?.name).to.equal('authenticationOk');
        c.end();
        await cluster.idle();
        expect(cluster.trace.events.some((e) => e.type === 'direct-ssl')).to.equal(true);
      } else {
        expect(outcome).to.not.match(/^tls/);
        sock.destroy();
        await cluster.idle();
        expect(cluster.trace.log('')).to.contain('LOG:  invalid length of startup packet');
      }
      await cluster.close();
    }
  });

  it('17+: a direct SSL client offering other ALPN protocols is refused with no_application_protocol', async () => {
    cluster = await TestCluster.start({ clock: 'real', postgresqlConf: { server_version: '17', ssl: true }, hba: 'host all all 127.0.0.1/32 trust', roles: ROLES });
    const port = await cluster.listen();
    const sock = tls.connect({ host: '127.0.0.1', port, ALPNProtocols: ['http/1.1'], rejectUnauthorized: false });
    const outcome = await new Promise<string>((resolve) => {
      sock.once('secureConnect', () => resolve('connected'));
      sock.once('error', (e) => resolve((e as Error).message));
    });
    sock.destroy();
    await cluster.idle();
    expect(outcome).to.match(/no application protocol/i);
    expect(cluster.trace.log('')).to.contain('LOG:  could not accept SSL connection: no application protocol');
  });

  it('16+: the reserved-slot message names the SUPERUSER attribute', async () => {
    for (const [major, text] of [[15, 'remaining connection slots are reserved for non-replication superuser connections'], [16, 'remaining connection slots are reserved for roles with the SUPERUSER attribute']] as const) {
      cluster = await TestCluster.start({ postgresqlConf: { server_version: String(major), max_connections: 2, superuser_reserved_connections: 1 }, hba: 'host all all 127.0.0.1/32 trust', roles: ROLES });
      const first = WireClient.memory(cluster.server);
      first.send(startupMessage('test'));
      await first.until('readyForQuery');
      const second = WireClient.memory(cluster.server);
      second.send(startupMessage('test'));
      const msgs = await second.drain();
      expect(msgs.at(-1)).to.include({ name: 'error', code: '53300', message: text });
      first.end();
      await cluster.idle();
      await cluster.close();
    }
  });
});
