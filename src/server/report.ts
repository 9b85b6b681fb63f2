/**
 * Where a report below ERROR goes (elog.c's EmitErrorReport routing): the server log when
 * log_min_messages lets it through, the client when client_min_messages does and the backend
 * is past authentication. In the postmaster there is no client.
 */
import type { EventBody, LogEventSeverity, ServerEvent } from '../events.js';
import type { GucRegistry } from '../config/index.js';
import { toNoticeResponse } from '../wire/codec.js';
import { elevelNumber, isClientLevelOutput, isLogLevelOutput, minMessagesLevel, severityOf, severityWord, type Elevel } from '../log/elevel.js';
import type { ReportFields } from '../extensions/elog.js';
import type { Backend } from './backend.js';
import { currentBackend } from './current.js';

export interface ReportSink {
  readonly gucs: GucRegistry;
  emit(body: EventBody, backend?: Backend): ServerEvent;
}

function setting(gucs: GucRegistry, name: string, fallback: string): string {
  return gucs.has(name) ? gucs.getString(name) : fallback;
}

/** A report below ERROR from extension code, attributed to the backend running it (or the postmaster). */
export function routeReport(sink: ReportSink, level: Elevel, fields: ReportFields): ServerEvent {
  const n = elevelNumber(level);
  const be = currentBackend.getStore();
  const toLog = isLogLevelOutput(n, minMessagesLevel(setting(sink.gucs, 'log_min_messages', 'warning')));
  let toClient = false;
  if (be) {
    const clientMin = be.session?.setting('client_min_messages') ?? setting(sink.gucs, 'client_min_messages', 'notice');
    toClient = be.outputToClient && isClientLevelOutput(n, safeLevel(clientMin), be.session === null);
  }
  const severity = severityOf(n) as LogEventSeverity;
  const body: EventBody = {
    type: 'log', severity, message: fields.message,
    ...(fields.detailLog !== undefined || fields.detail !== undefined ? { detail: fields.detailLog ?? fields.detail } : {}),
    ...(fields.hint !== undefined ? { hint: fields.hint } : {}),
    ...(fields.context !== undefined ? { context: fields.context } : {}),
    sqlstate: fields.sqlstate, toLog, toClient,
  };
  const ev = be ? be.emit(body) : sink.emit(body);
  if (be && toClient && ev.type === 'log') {
    // The client sees errdetail's text, never errdetail_log's; an emit_log_hook's edits show too.
    be.send(toNoticeResponse({
      severity: severityWord(n) as ReportFields['severity'], sqlstate: ev.sqlstate ?? fields.sqlstate, message: ev.message,
      ...(fields.detail !== undefined ? { detail: fields.detail } : {}),
      ...(ev.hint !== undefined ? { hint: ev.hint } : {}),
      ...(ev.context !== undefined ? { context: ev.context } : {}),
    }));
  }
  return ev;
}

function safeLevel(setting: string): number {
  try {
    return minMessagesLevel(setting);
  } catch {
    return minMessagesLevel('notice');
  }
}
