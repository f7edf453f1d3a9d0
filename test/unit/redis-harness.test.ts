import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisProcess, redisAvailable } from '../support/redis.js';

/** PING over RESP on a raw socket: resolves with the reply line. */
function ping(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = new Socket();
    s.on('error', reject);
    s.connect(port, '127.0.0.1', () => s.write('*1\r\n$4\r\nPING\r\n'));
    s.once('data', (d) => {
      resolve(d.toString().trim());
      s.destroy();
    });
  });
}

describe('redisAvailable: Redis suites fail, not skip, under CI', () => {
  it('throws under CI=true when redis-server is missing', () => {
    expect(() => redisAvailable(() => undefined, { CI: 'true' })).toThrow(/redis-server is not installed/);
  });
  it('skips (false) elsewhere, and runs (true) when the binary is found', () => {
    expect(redisAvailable(() => undefined, {})).toBe(false);
    expect(redisAvailable(() => '/usr/bin/redis-server', { CI: 'true' })).toBe(true);
  });
});

describe.runIf(redisAvailable())('the private redis-server harness', () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await RedisProcess.start();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('starts on its own port, dies on kill and comes back on restart', async () => {
    expect(redis.port).not.toBe(6379);
    expect(await ping(redis.port)).toBe('+PONG');
    await redis.kill();
    await expect(ping(redis.port)).rejects.toThrow(/ECONNREFUSED/);
    await redis.restart();
    expect(await ping(redis.port)).toBe('+PONG');
  });
});
