import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { drainOnSignals, REPEATED_SIGNAL_MS } from '../../src/cli/drain-on-signals.js';
import { silentLogger } from '../../src/util/logger.js';

describe('drainOnSignals', () => {
  let exit: ReturnType<typeof vi.spyOn>;
  let drain: ReturnType<typeof vi.fn<() => Promise<void>>>;

  beforeEach(() => {
    vi.useFakeTimers();
    exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    // A drain that never ends: only signals decide the exit here.
    drain = vi.fn(() => new Promise<void>(() => {}));
    drainOnSignals(silentLogger, () => ({}), drain);
  });

  afterEach(() => {
    process.removeAllListeners('SIGTERM');
    process.removeAllListeners('SIGINT');
    exit.mockRestore();
    vi.useRealTimers();
  });

  it('takes the same signal twice within the window (a process-group delivery) as one drain', () => {
    process.emit('SIGTERM', 'SIGTERM');
    vi.advanceTimersByTime(REPEATED_SIGNAL_MS - 1);
    process.emit('SIGTERM', 'SIGTERM');
    expect(drain).toHaveBeenCalledTimes(1);
    expect(exit).not.toHaveBeenCalled();
  });

  it('exits 1 on the same signal once the window has passed', () => {
    process.emit('SIGINT', 'SIGINT');
    vi.advanceTimersByTime(REPEATED_SIGNAL_MS);
    process.emit('SIGINT', 'SIGINT');
    expect(drain).toHaveBeenCalledTimes(1);
    expect(exit).toHaveBeenCalledWith(1);
  });

  it('exits 1 at once on the other signal', () => {
    process.emit('SIGTERM', 'SIGTERM');
    process.emit('SIGINT', 'SIGINT');
    expect(exit).toHaveBeenCalledWith(1);
  });
});
