import { describe, expect, it } from 'vitest';
import { serverResource } from '../support/server.js';

describe('servers in tests as AsyncDisposable resources', () => {
  it('restart() comes back on the same port with the same data dir: history survives', async () => {
    await using s = await serverResource();
    const port = s.port;
    const published = await s.server.hub.publish({ channel: 'chat:lobby', data: { text: 'before' } });
    await s.restart();
    expect(s.port).toBe(port);
    expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
    const history = await s.server.hub.history('chat:lobby');
    expect(history.publications.map((p) => p.data)).toEqual([{ text: 'before' }]);
    expect(history.epoch).toBe(published.epoch);
  });

  it('await using closes the server when the block ends, even when it throws', async () => {
    let url = '';
    await expect(
      (async () => {
        await using s = await serverResource();
        url = s.url;
        expect((await fetch(`${url}/healthz`)).status).toBe(200);
        throw new Error('the test body failed');
      })(),
    ).rejects.toThrow('the test body failed');
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
