/**
 * libpq's text for an ErrorResponse or NoticeResponse at the default verbosity
 * (pqBuildErrorMessage3 in fe-protocol3.c): "SEVERITY:  message", then DETAIL,
 * HINT, QUERY and (for errors) CONTEXT lines, each ending in a newline.
 */
import type { ErrorFields } from '../../wire/messages.js';

export function formatServerMessage(fields: ErrorFields, isError: boolean): string {
  let out = '';
  if (fields.severity) out += `${fields.severity}:  `;
  out += fields.message;
  // No query text is kept for a startup error, so a position prints as a character offset.
  if (fields.position !== undefined) out += ` at character ${fields.position}`;
  else if (fields.internalPosition !== undefined) out += ` at character ${fields.internalPosition}`;
  out += '\n';
  if (fields.detail !== undefined) out += `DETAIL:  ${fields.detail}\n`;
  if (fields.hint !== undefined) out += `HINT:  ${fields.hint}\n`;
  if (fields.internalQuery !== undefined) out += `QUERY:  ${fields.internalQuery}\n`;
  // show_context defaults to "errors": CONTEXT only for errors, not notices.
  if (isError && fields.where !== undefined) out += `CONTEXT:  ${fields.where}\n`;
  return out;
}

/** pqReadData()'s report when the server hangs up on us. */
export const SERVER_CLOSED_UNEXPECTEDLY =
  'server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n\tbefore or while processing the request.';

/** PQnoPasswordSupplied */
export const NO_PASSWORD_SUPPLIED = 'fe_sendauth: no password supplied';
