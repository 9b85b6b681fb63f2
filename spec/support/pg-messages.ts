/**
 * Protocol messages as comparable values: backend messages decoded by pg-protocol (not our
 * codec), frontend messages by a small independent reader, both rendered so that a real
 * PostgreSQL transcript and the simulator's can be compared with deep equality.
 */
import type { Received } from './wire-client.js';

const ERROR_KEYS = ['severity', 'code', 'message', 'detail', 'hint', 'position', 'where', 'file', 'line', 'routine'];

/** One backend message (as pg-protocol decodes it) in comparable form. */
export function backendMessage(m: Received): unknown {
  switch (m.name) {
    case 'rowDescription':
      return ['T', ...(m.fields as Array<Record<string, unknown>>).map((f) => `${f.name}:${f.dataTypeID}/${f.dataTypeSize}/${f.dataTypeModifier}/${f.format}@${f.tableID}.${f.columnID}`)];
    case 'dataRow': return ['D', ...(m.fields as unknown[])];
    case 'commandComplete': return ['C', m.text];
    case 'readyForQuery': return ['Z', m.status];
    case 'parameterStatus': return ['S', m.parameterName, m.parameterValue];
    case 'parameterDescription': return ['t', ...(m.dataTypeIDs as number[])];
    case 'backendKeyData': return ['K'];
    case 'error': case 'notice':
      return [m.name === 'error' ? 'E' : 'N', Object.fromEntries(ERROR_KEYS.filter((k) => m[k] !== undefined).map((k) => [k, m[k]]))];
    default: return [m.name];
  }
}

export function backendMessages(msgs: readonly Received[]): unknown[] {
  return msgs.map(backendMessage);
}

/** A frontend message body, read without our codec. */
export function frontendMessage(type: string, body: Buffer): unknown {
  let at = 0;
  const str = () => { const end = body.indexOf(0, at); const s = body.toString('utf8', at, end); at = end + 1; return s; };
  const i16 = () => { const v = body.readInt16BE(at); at += 2; return v; };
  const i32 = () => { const v = body.readInt32BE(at); at += 4; return v; };
  switch (type) {
    case 'Q': return ['Query', str()];
    case 'P': {
      const name = str(); const sql = str(); const n = i16();
      return ['Parse', name, sql, Array.from({ length: n }, () => i32() >>> 0)];
    }
    case 'B': {
      const portal = str(); const stmt = str();
      const pf = Array.from({ length: i16() }, () => i16());
      const values = Array.from({ length: i16() }, () => { const len = i32(); if (len < 0) return null; const v = body.subarray(at, at + len).toString('hex'); at += len; return v; });
      const rf = Array.from({ length: i16() }, () => i16());
      return ['Bind', portal, stmt, pf, values, rf];
    }
    case 'D': return ['Describe', String.fromCharCode(body[0]!), body.toString('utf8', 1, body.length - 1)];
    case 'E': { const portal = str(); return ['Execute', portal, i32()]; }
    case 'C': return ['Close', String.fromCharCode(body[0]!), body.toString('utf8', 1, body.length - 1)];
    case 'S': return ['Sync'];
    case 'H': return ['Flush'];
    case 'X': return ['Terminate'];
    case 'p': return ['Password'];
    default: return [type, body.toString('hex')];
  }
}
