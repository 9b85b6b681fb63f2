/** The server's view of one driver connect() call, for comparing a real driver with its model. */
import { hookCallLabel, type Trace } from '../../src/testing/index.js';
import type { ServerEvent } from '../../src/events.js';

export interface Seen {
  connections: number;
  hooks: string[];
  /** Per TCP connection: SSLRequest answer, TLS, startup, SASL mechanism, hook status, errors sent, errors only logged. */
  transcript: string[][];
}

export function seen(trace: Trace): Seen {
  const byConnection = new Map<number, ServerEvent[]>();
  for (const e of trace.events) {
    if (e.connection === 0) continue;
    const list = byConnection.get(e.connection) ?? [];
    list.push(e);
    byConnection.set(e.connection, list);
  }
  const transcript = [...byConnection.values()].map((events) => events.flatMap((e): string[] => {
    switch (e.type) {
      case 'ssl-request': return [`SSLRequest→${e.answer}`];
      case 'tls-established': return ['TLS'];
      case 'startup-packet': return ['startup'];
      case 'hba-no-match': return ['no pg_hba.conf entry'];
      case 'auth-response': return e.message.startsWith('SASLInitialResponse') ? [e.message] : [];
      case 'hook-invoked': return [`hook ${e.status}`];
      case 'error': return e.toClient ? [`sent ${e.error.sqlstate}`] : [`logged: ${e.error.message}`];
      default: return [];
    }
  }));
  return { connections: trace.connectionCount(), hooks: trace.hookCalls().map(hookCallLabel), transcript };
}
