/**
 * psql 15's connection wrapper (src/bin/psql/startup.c) on top of the libpq model:
 * PQconnectdbParams with psql's keyword list, the one-time password prompt when the
 * server wanted a password we did not have, `-W` prompting up front, `-w` never
 * prompting, and what psql prints: `psql: error: ` + libpq's message, exit code 2.
 * With `-c` it runs the command and prints the result in the default aligned format.
 */
import * as os from 'node:os';
import { conninfoArrayParse, resolveConnOptions } from './conninfo.js';
import { connectLibpq, type LibpqAttempt, type LibpqEnv } from './libpq/connect.js';
import type { QueryResult } from './libpq/connection.js';
import { PSQL_SOURCES } from './libpq/sources.js';
import type { ClientDecision, ClientTraceListener, SourceRef } from './trace.js';

export interface PsqlInvocation {
  /** The positional database argument: a name, a conninfo string or a URI (expanded by libpq). */
  dbname?: string;
  /** -h, -p, -U */
  host?: string;
  port?: string;
  username?: string;
  /** -c */
  command?: string;
  /** -w: never prompt for a password. */
  noPassword?: boolean;
  /** -W: prompt before connecting. */
  forcePassword?: boolean;
  /**
   * stdin and stdout are terminals (psql's pset.notty is the opposite). Only then does psql ask
   * for client_encoding=auto. The oracle's -c runs had no terminal; its interactive runs did.
   */
  tty?: boolean;
}

export interface PsqlEnv extends LibpqEnv {
  /**
   * The terminal (/dev/tty) for simple_prompt(): returns the line typed at a password prompt, or
   * null for end of input (an empty password). Without a terminal psql writes the prompt to
   * stderr and reads stdin, which this model takes to be at end of input.
   */
  prompt?: (text: string) => Promise<string | null>;
}

export interface PsqlResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /**
   * What a terminal would show: prompts (followed by the newline psql prints after the hidden
   * input), stderr and stdout, in order.
   */
  terminal: string;
  /** Every TCP connection, across the reconnect after a prompt. */
  attempts: LibpqAttempt[];
  /** How many times psql called PQconnectdbParams. */
  connectCalls: number;
}

/** EXIT_BADCONN */
export const PSQL_EXIT_BADCONN = 2;

export async function runPsql(inv: PsqlInvocation, env: PsqlEnv): Promise<PsqlResult> {
  let stdout = '';
  let stderr = '';
  let terminal = '';
  const attempts: LibpqAttempt[] = [];
  const out = (s: string) => { stdout += s; terminal += s; };
  const err = (s: string) => { stderr += s; terminal += s; };
  const environ = env.environ ?? {};
  const warn = env.warn ?? ((line: string) => err(line));
  // simple_prompt() prints a newline after the (unechoed) input, wherever the prompt went.
  const prompt = async (text: string): Promise<string> => {
    if (!env.prompt) {
      err(`${text}\n`);
      return '';
    }
    terminal += text;
    const typed = await env.prompt(text);
    terminal += '\n';
    return typed ?? '';
  };

  // libpq's events are psql's too: one numbering of TCP connections across the reconnect.
  const listener: ClientTraceListener | undefined = env.onTrace;
  const onTrace: ClientTraceListener | undefined = listener
    ? (e) => listener({ ...e, client: 'psql', attempt: e.attempt + attempts.length })
    : undefined;
  const trace = (decision: ClientDecision, source: SourceRef, rule: string, reason: string) => {
    listener?.({ type: 'client-decision', time: env.clock.now(), client: 'psql', attempt: Math.max(1, attempts.length), decision, reason, source, rule: `psql.${rule}` });
  };

  let password: string | null = null;
  if (inv.forcePassword) {
    trace('prompt-password', PSQL_SOURCES.forcePrompt, 'force-prompt', 'psql -W: psql asks for the password before it connects at all.');
    password = await prompt('Password: ');
  }

  let connectCalls = 0;
  for (;;) {
    connectCalls++;
    const parsed = conninfoArrayParse([
      ['host', inv.host],
      ['port', inv.port],
      ['user', inv.username],
      ['password', password],
      ['dbname', inv.dbname],
      ['fallback_application_name', 'psql'],
      ['client_encoding', inv.tty && environ.PGCLIENTENCODING === undefined ? 'auto' : null],
    ], { version: env.version, expandDbname: true });
    const resolved = parsed.ok
      ? resolveConnOptions(parsed.values, {
        version: env.version, environ, osUser: env.osUser ?? os.userInfo().username, homeDir: env.homeDir ?? null,
        ...(env.passfileReader ? { passfileReader: env.passfileReader } : {}), warn,
      })
      : parsed;
    if (!resolved.ok) {
      err(psqlError(`${resolved.error}\n`));
      return { exitCode: PSQL_EXIT_BADCONN, stdout, stderr, terminal, attempts, connectCalls };
    }
    const r = await connectLibpq(resolved.options, { ...env, warn, ...(onTrace ? { onTrace } : {}) });
    attempts.push(...r.attempts);
    if (r.ok) {
      for (const n of r.connection.info.notices) err(n);
      let exitCode = 0;
      if (inv.command !== undefined) {
        const results = await r.connection.exec(inv.command);
        for (const n of r.connection.queryNotices) err(n);
        for (const res of results) {
          if (res.status === 'error') {
            err(res.errorMessage);
            exitCode = 1;
          } else {
            out(printResult(res));
          }
        }
      }
      await r.connection.close();
      return { exitCode, stdout, stderr, terminal, attempts, connectCalls };
    }
    // Ask once, and only if the server wanted a password that we did not have.
    if (r.connectionNeedsPassword && password === null && !inv.noPassword) {
      const user = r.user;
      trace('prompt-password', PSQL_SOURCES.prompt, 'prompt-password',
        'libpq failed because the server wanted a password and none was given (PQconnectionNeedsPassword). psql has not asked yet and -w was not given, so it prompts for one and connects again from the start.');
      password = await prompt(user ? `Password for user ${user}: ` : 'Password: ');
      continue;
    }
    err(psqlError(r.errorMessage));
    return { exitCode: PSQL_EXIT_BADCONN, stdout, stderr, terminal, attempts, connectCalls };
  }
}

/** pg_log_error("%s", PQerrorMessage(conn)): one trailing newline is dropped, then one added. */
function psqlError(message: string): string {
  const body = message.endsWith('\n') ? message.slice(0, -1) : message;
  return `psql: error: ${body}\n`;
}

/** Types psql right-aligns (column_type_alignment in print.c). */
const NUMERIC_OIDS = new Set([20, 21, 23, 26, 28, 29, 700, 701, 790, 1700, 5069]);

/** printQuery() with the default \pset: aligned, border 1, headers centered, a row count footer. */
export function printResult(res: QueryResult): string {
  if (res.status === 'empty') return '';
  if (res.status !== 'tuples') return res.commandTag ? `${res.commandTag}\n` : '';
  const headers = res.fields.map((f) => f.name);
  const right = res.fields.map((f) => NUMERIC_OIDS.has(f.typeOid));
  const cells = res.rows.map((row) => headers.map((_, i) => row[i] ?? ''));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const n = headers.length;
  let text = '';
  // Header: every column centered, the last one padded too, then a space.
  text += ` ${headers.map((h, i) => {
    const pad = widths[i]! - h.length;
    const before = Math.floor(pad / 2);
    return ' '.repeat(before) + h + ' '.repeat(pad - before);
  }).join(' | ')} \n`;
  text += `${widths.map((w) => '-'.repeat(w + 2)).join('+')}\n`;
  for (const row of cells) {
    let line = ' ';
    for (let i = 0; i < n; i++) {
      const v = row[i]!;
      const pad = widths[i]! - v.length;
      const last = i === n - 1;
      if (right[i]) line += ' '.repeat(pad) + v;
      else line += v + (last ? '' : ' '.repeat(pad));
      if (!last) line += ' | ';
    }
    text += `${line}\n`;
  }
  const count = res.rows.length;
  text += `(${count} row${count === 1 ? '' : 's'})\n\n`;
  return text;
}
