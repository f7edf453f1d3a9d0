import { Frame } from '../hub/frame.js';
import { defaults, WirehubError } from '../protocol/index.js';
import { defineEndpoint } from './endpoint.js';

/** Parses `?interval=` (ms): digits only, within the allowed bounds. */
export function parseStreamInterval(raw: string | null): number {
  if (raw === null) return defaults.streamIntervalMs;
  const value = /^\d{1,6}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= defaults.streamIntervalMinMs && value <= defaults.streamIntervalMaxMs)) {
    throw new WirehubError(
      'bad_interval',
      `interval must be an integer number of milliseconds from ${defaults.streamIntervalMinMs} to ${defaults.streamIntervalMaxMs}`,
    );
  }
  return value;
}

/**
 * `/stream`: a JSON sample `{"timestamp","value"}` now and then every interval. A client that
 * cannot keep up loses samples (counted as drops) rather than the connection: the next
 * sample supersedes the one it missed.
 */
export const streamEndpoint = defineEndpoint({
  path: '/stream',
  name: 'stream',
  accept: (info) => parseStreamInterval(info.query.get('interval')),
  open(session, _ctx, intervalMs) {
    const sample = () => {
      session.send(Frame.json({ timestamp: new Date().toISOString(), value: Math.random() }), 'drop');
    };
    sample();
    const timer = setInterval(sample, intervalMs);
    return {
      close() {
        clearInterval(timer);
      },
    };
  },
});
