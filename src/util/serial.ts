/**
 * One promise chain: each task starts once the one before it has settled, whatever happened
 * to it (the caller of `run` gets each task's own result or failure).
 *
 * @example
 * ```ts
 * const messages = new Serial();
 * socket.on('message', (text) => messages.run(() => handle(text)).catch(report));
 * ```
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => T | PromiseLike<T>): Promise<T> {
    const next = this.tail.then(task);
    this.tail = next.catch(() => {});
    return next;
  }

  /** Settles once every task queued so far has settled; never rejects. */
  settled(): Promise<void> {
    return this.tail.then(() => {});
  }
}

/**
 * One `Serial` chain per key (a run, a channel): tasks of one key run one after another, keys
 * do not wait for each other, and a key's chain is forgotten once it has nothing left to run.
 *
 * @example
 * ```ts
 * const perRun = new SerialByKey();
 * await perRun.run(runId, () => store.apply(runId, change));
 * ```
 */
export class SerialByKey {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Keys with tasks queued or running. */
  get size(): number {
    return this.tails.size;
  }

  run<T>(key: string, task: () => T | PromiseLike<T>): Promise<T> {
    const next = (this.tails.get(key) ?? Promise.resolve()).then(task);
    const tail = next.catch(() => {});
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }

  /** Settles once every task queued so far (under any key) has settled; never rejects. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.tails.values()]);
  }
}
