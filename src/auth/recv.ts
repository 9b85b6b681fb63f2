/**
 * Reading the client's answer during an authentication exchange: the type
 * byte first (a wrong type is reported as such, whatever follows), then
 * pq_getmessage, whose framing complaints are logged but never sent.
 */
import { match } from 'ts-pattern';
import type { PgError } from '../errors.js';
import type { ClientConnection } from '../connection.js';

export type AuthMessageRead = { kind: 'eof' } | { kind: 'framing-error' } | { kind: 'body'; body: Buffer };

export async function recvAuthMessage(be: ClientConnection, maxLength: number, wrongType: (type: number) => PgError): Promise<AuthMessageRead> {
  const type = await be.readMessageType();
  if (type === null) return { kind: 'eof' };
  if (type !== 0x70 /* 'p' */) throw wrongType(type);
  const read = await be.readMessageBody(maxLength);
  return match(read)
    .with({ kind: 'eof-in-length' }, () => frameFault(be, 'unexpected EOF within message length word'))
    .with({ kind: 'invalid-length' }, () => frameFault(be, 'invalid message length'))
    .with({ kind: 'incomplete' }, () => frameFault(be, 'incomplete message from client'))
    .with({ kind: 'body' }, (r): AuthMessageRead => ({ kind: 'body', body: r.body }))
    .exhaustive();
}

function frameFault(be: ClientConnection, message: string): AuthMessageRead {
  be.logCommError(message);
  return { kind: 'framing-error' };
}
