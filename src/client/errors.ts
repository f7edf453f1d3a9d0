import { CloseCode } from '../protocol/close-codes.js';
import { isErrorCode, WirehubError } from '../protocol/errors.js';
import type { GuardIssue } from '../protocol/guard.js';
import type { RtError } from '../protocol/rt.js';

/** A frame or reply from the server that breaks the protocol, with the issues as details. */
export function malformed(what: string, issues: GuardIssue[]): WirehubError {
  return new WirehubError('invalid_message', `the server sent ${what} that is not in the protocol`, {
    issues,
  });
}

/**
 * The typed error of an `/rt` `error` frame. A code this client does not know (a newer
 * server) becomes `internal`, with the server's code kept in `details.code`.
 */
export function errorFromFrame(frame: Pick<RtError, 'code' | 'message' | 'details'>): WirehubError {
  if (isErrorCode(frame.code)) return new WirehubError(frame.code, frame.message, frame.details);
  return new WirehubError('internal', frame.message, { code: frame.code, details: frame.details });
}

/** Why the connection ended, as a typed error (`details` holds the close code and reason). */
export function errorFromClose(code: number, reason: string): WirehubError {
  const details = { closeCode: code, reason };
  const said = reason ? `: ${reason}` : '';
  switch (code) {
    case CloseCode.Unauthorized:
      return new WirehubError('unauthorized', `the server closed the connection (4001${said})`, details);
    case CloseCode.Forbidden:
    case CloseCode.Policy:
      return new WirehubError('forbidden', `the server closed the connection (${code}${said})`, details);
    case CloseCode.TooBig:
      return new WirehubError('payload_too_large', `the server closed the connection (1009${said})`, details);
    case CloseCode.UnsupportedData:
    case CloseCode.InvalidPayload:
      return new WirehubError(
        'invalid_message',
        `the server closed the connection (${code}${said})`,
        details,
      );
    default:
      return new WirehubError('disconnected', `the connection closed (${code}${said})`, details);
  }
}

/** A refused upgrade (HTTP status known), as a typed error. */
export function errorFromUpgrade(status: number): WirehubError {
  const details = { status };
  const message = `the server refused the WebSocket upgrade with HTTP ${status}`;
  if (status === 401) return new WirehubError('unauthorized', message, details);
  if (status === 403) return new WirehubError('forbidden', message, details);
  if (status === 404) return new WirehubError('not_found', message, details);
  if (status === 429) return new WirehubError('rate_limited', message, details);
  if (status === 503) return new WirehubError('not_ready', message, details);
  if (status >= 400 && status < 500) return new WirehubError('bad_request', message, details);
  return new WirehubError('disconnected', message, details);
}

/** Upgrade refusals that a retry cannot fix (401 is judged apart: a fresh token may fix it). */
export function isFinalUpgradeStatus(status: number): boolean {
  return status === 400 || status === 403 || status === 404 || status === 426;
}
