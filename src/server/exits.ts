/**
 * Ways a backend ends other than a FATAL sent to the client. Thrown through
 * the backend's call stack like PostgreSQL's proc_exit()/COMMERROR paths.
 */

/** proc_exit() without a word to the client; `log` lines are written first. */
export class ProcExit extends Error {
  constructor(readonly reason: 'eof' | 'timeout' | 'comm-error' | 'shutdown' | 'terminate' | 'socket-error', message: string = reason) {
    super(message);
    this.name = 'ProcExit';
  }
}
