/** Unsubscribes the listener it was returned for. */
export type Off = () => void;

/**
 * A small typed event emitter that runs in browsers and Node alike. A listener that throws
 * does not break the client: its error is rethrown on a fresh task, the way the DOM
 * reports errors of event listeners.
 */
export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<(value: never) => void>>();

  on<K extends keyof Events>(event: K, listener: (value: Events[K]) => void): Off {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return () => this.off(event, listener);
  }

  off<K extends keyof Events>(event: K, listener: (value: Events[K]) => void): void {
    this.listeners.get(event)?.delete(listener);
  }

  emit<K extends keyof Events>(event: K, value: Events[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) callSafely(listener as (value: Events[K]) => void, value);
  }

  listenerCount(event: keyof Events): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  clear(): void {
    this.listeners.clear();
  }
}

/** Calls an application callback; what it throws surfaces later instead of breaking the caller. */
export function callSafely<T>(fn: ((value: T) => void) | undefined, value: T): void {
  if (!fn) return;
  try {
    fn(value);
  } catch (err) {
    setTimeout(() => {
      throw err;
    }, 0);
  }
}
