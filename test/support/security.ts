import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { SignJWT } from 'jose';
import { afterAll, beforeAll } from 'vitest';
import type { ClientOptions } from 'ws';
import type { NamespaceConfig } from '../../src/hub/namespaces.js';
import type { ServerOptions } from '../../src/server/options.js';
import { TestClient } from './client.js';
import { type RunningServer, startServer } from './server.js';

/** An HS256 secret for tests (32+ bytes, as the server demands). */
export const SECRET = 'test-secret-that-is-long-enough-0123456789';
export const API_KEY = 'api-key-for-tests-0123456789';

/** Signs an HS256 JWT; `exp` defaults to an hour from now (pass `exp: undefined` to leave it out). */
export async function mintToken(
  claims: Record<string, unknown> = {},
  o: { secret?: string; exp?: number | undefined; kid?: string } = {},
): Promise<string> {
  const payload = { sub: 'alice', ...claims };
  const jwt = new SignJWT(payload).setProtectedHeader({
    alg: 'HS256',
    typ: 'JWT',
    ...(o.kid ? { kid: o.kid } : {}),
  });
  const exp = 'exp' in o ? o.exp : Math.floor(Date.now() / 1000) + 3600;
  if (exp !== undefined) jwt.setExpirationTime(exp);
  return jwt.sign(new TextEncoder().encode(o.secret ?? SECRET));
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** An unsigned token (`alg: none`), as an attacker would forge one. */
export function unsignedToken(claims: Record<string, unknown> = {}): string {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: 'mallory', exp, ...claims })}.`;
}

export interface HttpAnswer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** A plain HTTP(S) request; `ca` trusts a test certificate. */
export function http(
  url: string,
  o: { method?: string; headers?: Record<string, string>; body?: string; ca?: string | Buffer } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = send(
      url,
      { method: o.method ?? 'GET', headers: o.headers, ...(o.ca ? { ca: o.ca } : {}) },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

/**
 * A well-behaved client that keeps exchanging messages with `/echo` while an attack runs,
 * from its own address (127.0.0.2) so per-IP limits on the attacker do not touch it.
 * `checkpoint()` waits for one more round trip; `stop()` checks there was no failure.
 */
export class Bystander {
  exchanges = 0;
  private running = true;
  private failure: Error | undefined;
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private readonly loop: Promise<void>;

  private constructor(private readonly client: TestClient) {
    this.loop = this.run();
  }

  static async start(wsUrl: string, options: ClientOptions = {}): Promise<Bystander> {
    const client = await TestClient.connect(`${wsUrl}/echo`, { localAddress: '127.0.0.2', ...options });
    return new Bystander(client);
  }

  private async run(): Promise<void> {
    try {
      while (this.running) {
        const text = `bystander-${this.exchanges}`;
        await this.client.send(text);
        const got = await this.client.next(5_000);
        if (got !== `Echo: ${text}`) throw new Error(`bystander got ${String(got)} for ${text}`);
        this.exchanges += 1;
        for (const w of this.waiters.splice(0)) w.resolve();
        // Pace well under the default message rate: a bystander, not a flood.
        await new Promise((r) => setTimeout(r, 5));
      }
    } catch (err) {
      this.failure = err as Error;
      for (const w of this.waiters.splice(0)) w.reject(this.failure);
    }
  }

  /** Resolves after the next completed round trip; rejects if the bystander failed. */
  checkpoint(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** One more round trip, then stop; throws the first failure seen. */
  async stop(): Promise<number> {
    await this.checkpoint();
    this.running = false;
    await this.loop;
    if (this.failure) throw this.failure;
    this.client.ws.terminate();
    return this.exchanges;
  }
}

/** Chat channels that announce joins and leaves at once, so "nobody heard it" can be checked by order. */
export const CHAT_WITHOUT_DEBOUNCE: NamespaceConfig = {
  pattern: 'chat:*',
  history: { size: 100, ttlMs: 60_000 },
  presence: true,
  joinLeaveDebounceMs: 0,
};

/** Publishes as a backend does (`POST /api/publish` with the API key); throws unless 200. */
export async function publishAsServer(url: string, channel: string, data: unknown): Promise<void> {
  const r = await http(`${url}/api/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify({ channel, data }),
  });
  if (r.status !== 200) throw new Error(`publish to ${channel} answered ${r.status}: ${r.body}`);
}

/** A server with auth on and a bystander exchanging messages with it the whole time. */
export interface GuardedServer {
  srv: RunningServer;
  bystander: Bystander;
  /** Checks the bystander was never disturbed, then closes the server. */
  stop(): Promise<void>;
}

/** Starts a server with auth on (`SECRET` for JWTs, `API_KEY`) and its bystander. */
export async function guardedServer(options: ServerOptions = {}): Promise<GuardedServer> {
  const srv = await startServer({ auth: { jwtSecret: SECRET, apiKeys: [API_KEY] }, ...options });
  const bystander = await Bystander.start(srv.wsUrl, { headers: { authorization: `Bearer ${API_KEY}` } });
  return {
    srv,
    bystander,
    async stop() {
      try {
        if ((await bystander.stop()) === 0) throw new Error('the bystander exchanged nothing');
      } finally {
        await srv.close();
      }
    },
  };
}

/**
 * One guarded server for a whole test file: started before its tests, stopped after them
 * (the clients pushed on `closers` are terminated first). Read `srv`/`bystander` in tests.
 */
export function guardedServerPerFile(options: ServerOptions = {}) {
  let guarded: GuardedServer | undefined;
  const closers: (() => void)[] = [];
  beforeAll(async () => {
    guarded = await guardedServer(options);
  });
  afterAll(async () => {
    for (const close of closers.splice(0)) close();
    await guarded?.stop();
  });
  const started = (): GuardedServer => {
    if (!guarded) throw new Error('the server is not started yet');
    return guarded;
  };
  return {
    closers,
    get srv(): RunningServer {
      return started().srv;
    },
    get bystander(): Bystander {
      return started().bystander;
    },
  };
}
