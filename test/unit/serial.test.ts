import { describe, expect, it } from 'vitest';
import { Serial, SerialByKey } from '../../src/util/serial.js';

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('Serial', () => {
  it('runs tasks one after another and goes on after a failure', async () => {
    const serial = new Serial();
    const log: string[] = [];
    const gate = deferred();
    const a = serial.run(async () => {
      await gate.promise;
      log.push('a');
      throw new Error('a failed');
    });
    const b = serial.run(() => {
      log.push('b');
      return 2;
    });
    expect(log).toEqual([]);
    gate.resolve();
    await expect(a).rejects.toThrow('a failed');
    await expect(b).resolves.toBe(2);
    expect(log).toEqual(['a', 'b']);
    await expect(serial.settled()).resolves.toBeUndefined();
  });
});

describe('SerialByKey', () => {
  it('orders tasks per key, lets keys overlap, and forgets idle keys', async () => {
    const chains = new SerialByKey();
    const log: string[] = [];
    const gate = deferred();
    const x1 = chains.run('x', async () => {
      await gate.promise;
      log.push('x1');
    });
    const x2 = chains.run('x', () => log.push('x2'));
    const y1 = chains.run('y', () => log.push('y1'));
    await y1;
    expect(log).toEqual(['y1']);
    expect(chains.size).toBe(2);
    gate.reject(new Error('x1 failed'));
    await expect(x1).rejects.toThrow('x1 failed');
    await x2;
    expect(log).toEqual(['y1', 'x2']);
    await chains.settled();
    await new Promise((resolve) => setImmediate(resolve));
    expect(chains.size).toBe(0);
  });
});
