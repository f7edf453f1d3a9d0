import type { Duplex } from 'node:stream';
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifyServerOptions,
} from 'fastify';
import { type ErrorCode, WirehubError } from '../../protocol/index.js';
import { rejectUpgrade } from './http-reject.js';
import { RouteMethods } from './route-methods.js';
import { sendNotFoundPage, wantsHtmlPage } from './routes/web.js';

/**
 * The longest path parameter the router takes (Fastify's default is 100, shorter than a
 * channel name may be). Longer ones are 414 `uri_too_long`; shorter ones meet each route's
 * own validation, which says what is wrong with them.
 */
export const MAX_PATH_PARAM_LENGTH = 256;

/** The catalog code of a status that Fastify, a plugin or Node answers by itself. */
const CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'bad_content_type',
  429: 'rate_limited',
  431: 'headers_too_large',
  503: 'not_ready',
};

/** Headers of every error answer, whichever hooks ran before it. */
const ERROR_HEADERS: Readonly<Record<string, string>> = { 'X-Content-Type-Options': 'nosniff' };

/**
 * Any error a route, Fastify or a plugin throws, as the status and catalog error to answer.
 * A `WirehubError` is itself; a Fastify error keeps its 4xx status under the catalog code of
 * that status (`bad_request` when the catalog has none); anything else, and every 5xx but
 * 503, is `internal` with nothing of the cause in the answer.
 */
export function httpErrorOf(err: unknown): { status: number; error: WirehubError } {
  if (err instanceof WirehubError) return { status: err.status, error: err };
  const e = err as Partial<FastifyError>;
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status === 503) return { status, error: new WirehubError('not_ready', e.message) };
  if (status < 400 || status >= 500) return { status: 500, error: new WirehubError('internal') };
  return { status, error: new WirehubError(CODE_BY_STATUS[status] ?? 'bad_request', messageOf(e)) };
}

/** Fastify's message, except where it would echo the whole request back. */
function messageOf(e: Partial<FastifyError>): string | undefined {
  if (e.code === 'FST_ERR_BAD_URL') return 'the URL is not validly percent-encoded';
  if (e.code === 'FST_ERR_MAX_PARAM_LENGTH')
    return `a path segment is over ${MAX_PATH_PARAM_LENGTH} characters`;
  return e.message;
}

function send(reply: FastifyReply, err: unknown, req: FastifyRequest): FastifyReply {
  const { status, error } = httpErrorOf(err);
  if (status >= 500 && status !== 503) req.log.error({ err }, 'request failed');
  // An error thrown by an earlier onRequest hook (a guard) skips the security headers' hook.
  return reply.code(status).headers(ERROR_HEADERS).send({ error: error.toJSON() });
}

/**
 * Options of Node's HTTP server: it would answer an HTTP/1.1 request without `Host` with an
 * empty 400 by itself; `installErrorHandling` refuses it in the catalog shape instead.
 */
export const NODE_HTTP_OPTIONS = { requireHostHeader: false } as const;

/**
 * Fastify options that keep its own answers in the catalog shape: router errors (a URL that
 * is not validly percent-encoded, an overlong path parameter), which skip the error handler,
 * and client errors (what Node's HTTP parser refuses: header overflow, bad framing, timeouts),
 * which Fastify would answer with its own body.
 */
export function errorAnsweringOptions(): Partial<FastifyServerOptions> {
  return {
    routerOptions: { maxParamLength: MAX_PATH_PARAM_LENGTH },
    frameworkErrors: (err, req, reply) => {
      send(reply, err, req);
    },
    clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Duplex) {
      if (err.code === 'ECONNRESET' || !socket.writable) {
        socket.destroy();
        return;
      }
      this.log.trace({ err }, 'client error');
      rejectUpgrade(socket, clientErrorOf(err));
    },
  } as Partial<FastifyServerOptions>;
}

/** A request Node could not parse (or that took too long), as a catalog error. */
export function clientErrorOf(err: NodeJS.ErrnoException): WirehubError {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return new WirehubError('request_timeout', 'the request was not complete in time');
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    return new WirehubError('headers_too_large', 'the request line and headers are over 16 KiB');
  }
  const reason = parserReason(err);
  return new WirehubError(
    'bad_request',
    reason === undefined ? 'the request is not valid HTTP/1.1' : `not valid HTTP/1.1: ${reason}`,
  );
}

/**
 * The parser's own fixed phrase for a refused request ("Duplicate Content-Length"), never the
 * client's bytes. Node's llhttp sets `reason`; Bun's parser sets no `reason` and words its
 * `message` as "Parse Error: <phrase>" or just "Parse Error", so its phrase, else its `HPE_*`
 * code in words, stands in: the answer has the same shape on both runtimes.
 */
function parserReason(err: NodeJS.ErrnoException): string | undefined {
  const reason = (err as { reason?: unknown }).reason;
  if (typeof reason === 'string' && reason !== '') return reason;
  const phrase = /^Parse Error: (.+)$/.exec(err.message)?.[1];
  if (phrase !== undefined) return phrase;
  // HPE_UNEXPECTED_CONTENT_LENGTH → "unexpected content length"
  return typeof err.code === 'string' && err.code.startsWith('HPE_')
    ? err.code.slice(4).toLowerCase().replaceAll('_', ' ')
    : undefined;
}

/**
 * Errors on every HTTP route have one shape: `{"error":{"code","message","details?"}}`, with
 * a code of the catalog. No route: 404 `not_found` (a styled HTML page with a link home when a
 * browser asks for a page, see `wantsHtmlPage`), or 405 `method_not_allowed` with `Allow`
 * when the path answers other methods. Call before any route is added (it watches them).
 */
export function installErrorHandling(app: FastifyInstance): void {
  const methods = new RouteMethods();
  app.addHook('onRoute', (route) => methods.add(route.url, route.method));
  app.setErrorHandler((err, req, reply) => send(reply, err, req));
  app.addHook('onRequest', async (req) => {
    if (req.raw.httpVersion === '1.1' && !req.headers.host) {
      throw new WirehubError('bad_request', 'an HTTP/1.1 request needs a Host header');
    }
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '/';
    const allowed = methods.allowed(path);
    if (allowed.length > 0) {
      const err = new WirehubError(
        'method_not_allowed',
        `${path} does not answer ${req.method}; it answers ${allowed.join(', ')}`,
        { allow: allowed },
      );
      return reply
        .code(405)
        .headers(ERROR_HEADERS)
        .header('Allow', allowed.join(', '))
        .send({ error: err.toJSON() });
    }
    return answerNotFound(req, reply);
  });
}

/**
 * The 404 of a path nothing answers: the not-found page for a browser, the catalog's
 * `not_found` otherwise. For routes that pass a request on and find nothing there (/docs/*).
 */
export function answerNotFound(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = req.url.split('?')[0] ?? '/';
  if (wantsHtmlPage(req)) return sendNotFoundPage(reply, `There is no page at ${path}.`);
  const err = new WirehubError('not_found', `no route for ${req.method} ${path}`);
  return reply.code(404).headers(ERROR_HEADERS).send({ error: err.toJSON() });
}
