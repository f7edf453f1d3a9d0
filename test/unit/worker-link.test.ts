import { afterEach, describe, expect, it, vi } from 'vitest';
import { endWorkerWithoutLink, LINK_GRACE_MS } from '../../src/runtime/workers/link.js';

/** A worker process as the primary sees it: alive until it exits or is killed. */
function fakeWorker() {
  const worker = {
    dead: false,
    kills: [] as string[],
    isDead: () => worker.dead,
    process: {
      kill(signal: NodeJS.Signals) {
        worker.kills.push(signal);
        worker.dead = true;
        return true;
      },
    },
  };
  return worker;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('a worker whose link closed', () => {
  it('is killed when it is still running after the grace period', () => {
    vi.useFakeTimers();
    const worker = fakeWorker();
    const told = vi.fn();
    endWorkerWithoutLink(worker, () => false, told);
    vi.advanceTimersByTime(LINK_GRACE_MS - 1);
    expect(worker.kills).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(worker.kills).toEqual(['SIGKILL']);
    expect(told).toHaveBeenCalledOnce();
  });

  it('is left alone when it exits on its own within the grace period', () => {
    vi.useFakeTimers();
    const worker = fakeWorker();
    const told = vi.fn();
    endWorkerWithoutLink(worker, () => false, told);
    worker.dead = true; // the usual case: the link closed because the process ended
    vi.advanceTimersByTime(LINK_GRACE_MS * 2);
    expect(worker.kills).toEqual([]);
    expect(told).not.toHaveBeenCalled();
  });

  it('is left to the drain while the server stops', () => {
    vi.useFakeTimers();
    const worker = fakeWorker();
    let stopping = false;
    endWorkerWithoutLink(worker, () => stopping, vi.fn());
    stopping = true; // SIGTERM arrived meanwhile: the drain ends every worker its own way
    vi.advanceTimersByTime(LINK_GRACE_MS * 2);
    expect(worker.kills).toEqual([]);
    endWorkerWithoutLink(worker, () => true, vi.fn());
    vi.advanceTimersByTime(LINK_GRACE_MS * 2);
    expect(worker.kills).toEqual([]);
  });
});
