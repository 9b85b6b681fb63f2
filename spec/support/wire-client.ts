/**
 * The raw protocol client the specs use: pg-authsim's exported WireClient
 * (src/testing/wire-client.ts) with node-postgres's pg-protocol parser as its decoder,
 * so our codec is not only checked against itself.
 */
import type { Duplex } from 'node:stream';
import { Parser } from 'pg-protocol/dist/parser.js';
import type { BackendMessage as PgpMessage } from 'pg-protocol/dist/messages.js';
import { WireClientBase, type BackendDecoder } from '../../src/testing/wire-client.js';

export type Received = PgpMessage & Record<string, unknown>;

/** pg-protocol's streaming parser; names are its message names (authenticationSASL, readyForQuery, ...). */
function pgProtocolDecoder(): BackendDecoder<Received> {
  const parser = new Parser();
  return {
    parse: (chunk, emit) => parser.parse(chunk, (m) => emit(m as Received)),
    name: (m) => m.name,
  };
}

export class WireClient extends WireClientBase<Received> {
  constructor(socket: Duplex) {
    super(socket, pgProtocolDecoder());
  }
}
