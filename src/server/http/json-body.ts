import type { FastifyInstance } from 'fastify';
import { parseJson, WirehubError } from '../../protocol/index.js';

/**
 * Replaces Fastify's `application/json` body parser with the bounded one every JSON entry
 * point uses (`parseJson`): a body nested deeper than `maxDepth` is a 400 `json_too_deep`,
 * one with a prototype key a 400 `invalid_message`, one that is not JSON a 400
 * `invalid_json`, all in the `{"error":{code,message}}` shape. The body limit stays Fastify's
 * own (`bodyLimit`, 1 MiB by default: 413 `payload_too_large`).
 */
export function installJsonBodyParser(app: FastifyInstance, maxDepth: number): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.length === 0) {
      done(new WirehubError('invalid_json', 'the body is empty; send JSON, or no content-type'), undefined);
      return;
    }
    try {
      done(null, parseJson(text, { what: 'body', maxDepth }));
    } catch (err) {
      done(err as WirehubError, undefined);
    }
  });
}
