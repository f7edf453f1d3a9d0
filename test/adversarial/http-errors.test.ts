import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCatalog } from '../../src/protocol/index.js';
import { httpErrorSchema } from '../../src/server/http/openapi/route-docs.js';
import { rawRequest } from '../support/raw-http.js';
import { Bystander, http } from '../support/security.js';
import { type RunningServer, startServer } from '../support/server.js';

/**
 * Fastify's own errors, and Node's, answered in the catalog shape `{"error":{code,message}}`
 * with the code's status: nothing a client sends gets `{"error":"Bad Request","code":"FST_…"}`.
 */

let srv: RunningServer;
let bystander: Bystander;

beforeAll(async () => {
  srv = await startServer({ tasks: { poolSize: 1 }, requestTimeoutMs: 1_500, headersTimeoutMs: 1_000 });
  bystander = await Bystander.start(srv.wsUrl);
});

afterAll(async () => {
  expect(await bystander.stop()).toBeGreaterThan(0);
  await srv.close();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP answer split into status, lower-cased headers and body. */
function parseRaw(raw: string): Answer {
  const at = raw.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = raw.slice(0, at).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: raw.slice(at + 4) };
}

function raw(request: string): Promise<Answer> {
  return rawRequest(srv.port, request).then(parseRaw);
}

/** The answer is a catalog error of `code`, with `status` (the code's own unless told), as JSON. */
function expectCatalogError(a: Answer, status: number, code: string): { code: string; message: string } {
  expect(a.status).toBe(status);
  expect(a.headers['content-type']).toMatch(/^application\/json/);
  expect(a.headers['x-content-type-options']).toBe('nosniff');
  const body = httpErrorSchema.parse(JSON.parse(a.body));
  expect(body.error.code).toBe(code);
  expect(errorCatalog[body.error.code].status).toBe(status);
  expect(body.error.message).not.toMatch(/FST_|HPE_/);
  return body.error;
}

describe('router errors', () => {
  it('answers a URL that is not validly percent-encoded with 400 bad_request', async () => {
    for (const path of ['/api/runs/%', '/runs/%zz', '/assets/%E0%A4%A', '/api/channels/%/history']) {
      const e = expectCatalogError(await http(`${srv.url}${path}`), 400, 'bad_request');
      expect(e.message).toBe('the URL is not validly percent-encoded');
    }
  });

  it('takes path parameters as long as a channel name may be, and answers longer ones 414 uri_too_long', async () => {
    // A valid 150-character channel name (Fastify's default limit was 100).
    const channel = `chat:${'x'.repeat(145)}`;
    const published = await http(`${srv.url}/api/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel, data: 'long' }),
    });
    expect(published.status).toBe(200);
    const history = await http(`${srv.url}/api/channels/${channel}/history`);
    expect(history.status).toBe(200);
    expect(JSON.parse(history.body).publications).toHaveLength(1);
    // Within the router's bound, the route's own validation says what is wrong.
    expectCatalogError(await http(`${srv.url}/api/runs/${'r'.repeat(220)}`), 400, 'bad_request');
    const e = expectCatalogError(await http(`${srv.url}/api/runs/${'r'.repeat(300)}`), 414, 'uri_too_long');
    expect(e.message).toBe('a path segment is over 256 characters');
    expect(e.message).not.toContain('rrrr');
  });

  it('answers 404 not_found for no route, and 405 method_not_allowed with Allow for a path that answers other methods', async () => {
    expectCatalogError(await http(`${srv.url}/nope`), 404, 'not_found');
    expectCatalogError(await http(`${srv.url}/api/nope`, { method: 'POST' }), 404, 'not_found');
    for (const [method, path, allow] of [
      ['DELETE', '/healthz', 'GET, HEAD'],
      ['POST', '/', 'GET, HEAD'],
      ['PUT', '/api/runs/r-1', 'GET, HEAD'],
      ['GET', '/api/publish', 'POST'],
      ['POST', '/chat/lobby', 'GET, HEAD'],
      ['PATCH', '/docs/json', 'GET, HEAD'],
      ['OPTIONS', '/api/runs', 'GET, HEAD'],
    ] as const) {
      const a = await http(`${srv.url}${path}`, { method });
      const e = expectCatalogError(a, 405, 'method_not_allowed');
      expect(a.headers.allow, `${method} ${path}`).toBe(allow);
      expect(e.message).toContain(method);
    }
  });
});

describe('body errors', () => {
  const post = (body: string, headers: Record<string, string>) =>
    http(`${srv.url}/api/publish`, { method: 'POST', headers, body });

  it('answers bodies Fastify cannot take in the catalog shape', async () => {
    const json = { 'content-type': 'application/json' };
    // JSON bodies go through wirehub's bounded parser (src/server/http/json-body.ts), whose code for
    // a body that is not JSON (or is empty) is invalid_json, as for a WebSocket frame.
    expectCatalogError(await post('{"channel":', json), 400, 'invalid_json');
    expectCatalogError(await post('', json), 400, 'invalid_json');
    expectCatalogError(await post('<x/>', { 'content-type': 'text/xml' }), 415, 'bad_content_type');
    expectCatalogError(
      await post('a=b', { 'content-type': 'application/x-www-form-urlencoded' }),
      415,
      'bad_content_type',
    );
    expectCatalogError(await post('x'.repeat(1024 * 1024 + 1), json), 413, 'payload_too_large');
  });

  it('answers an absurd or lying Content-Length at once, without waiting for the body', async () => {
    const head = 'POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n';
    // Bigger than the body limit: refused before a byte of the body is read.
    const big = await raw(`${head}Content-Length: 999999999999\r\nConnection: close\r\n\r\n{}`);
    expectCatalogError(big, 413, 'payload_too_large');
    for (const length of ['99999999999999999999999', '-1', '1e3', '0x10', '']) {
      const a = await raw(`${head}Content-Length: ${length}\r\n\r\n{}`);
      expect(expectCatalogError(a, 400, 'bad_request').message, length).toMatch(/^not valid HTTP\/1\.1: /);
    }
  });
});

describe("what the HTTP parser (Node's or Bun's) refuses before Fastify sees it", () => {
  it('answers unparseable requests with 400 bad_request, headers over the limit with 431 headers_too_large', async () => {
    for (const request of [
      'FOO / HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET / HTTP/9.9\r\nHost: x\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n',
      // Request smuggling: both framings, or two lengths.
      'POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
      // A JSON body, so that the route must read it: without one, Bun hands the head to the
      // route before it parses the body, and the route's 415 comes first.
      'POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    ]) {
      const a = await raw(request);
      expect(a.headers.connection, request).toBe('close');
      expect(expectCatalogError(a, 400, 'bad_request').message, request).toMatch(/^not valid HTTP\/1\.1: /);
    }
    const huge = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expectCatalogError(huge, 431, 'headers_too_large');
    const longUrl = await raw(`GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expectCatalogError(longUrl, 431, 'headers_too_large');
    const manyHeaders = Array.from({ length: 3_000 }, (_, i) => `X-H${i}: v`).join('\r\n');
    expectCatalogError(
      await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\n${manyHeaders}\r\n\r\n`),
      431,
      'headers_too_large',
    );
  });

  it('answers an HTTP/1.1 request without Host with 400 bad_request', async () => {
    const a = await raw('GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(expectCatalogError(a, 400, 'bad_request').message).toContain('Host');
  });

  it('cuts a body dribbled slowly at the request timeout with 408 request_timeout', async () => {
    const started = Date.now();
    // Says 10 bytes, sends 2, then nothing.
    const a = await raw(
      'POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{}',
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expectCatalogError(a, 408, 'request_timeout');
    await bystander.checkpoint();
  });
});

describe('/docs/static/index.html', () => {
  it('redirects to /docs/ with or without a query string, never to itself', async () => {
    for (const path of [
      '/docs/static/index.html',
      '/docs/static/index.html?x',
      '/docs/static/index.html?a=1&b=2',
    ]) {
      const a = await http(`${srv.url}${path}`);
      expect(a.status, path).toBe(302);
      expect(a.headers.location, path).toBe('/docs/');
    }
    const page = await fetch(`${srv.url}/docs/static/index.html?x`, { redirect: 'follow' });
    expect(page.status).toBe(200);
    expect(page.url).toBe(`${srv.url}/docs/`);
  });
});
