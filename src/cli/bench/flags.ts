import { InvalidArgumentError } from 'commander';

/** A whole number within bounds, e.g. `--connections 500`. Accepts `10k` and `1m`. */
export function parseCount(min: number, max: number) {
  return (raw: string): number => {
    const m = /^(\d+)(k|m)?$/i.exec(raw.trim());
    const n = m ? Number(m[1]) * ({ k: 1_000, m: 1_000_000 }[m[2]?.toLowerCase() ?? ''] ?? 1) : Number.NaN;
    if (!(n >= min && n <= max))
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return n;
  };
}

/**
 * The endpoint URL of a bench scenario: `ws(s)://` as it is, or `http(s)://` turned into its
 * `ws(s)://` twin (the form `wirehub connect --url` and the browser's address bar use). A URL
 * without a path targets the scenario's endpoint (`defaultPath`).
 */
export function parseWsUrl(raw: string, defaultPath = '/'): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new InvalidArgumentError(
      'expected a URL such as ws://127.0.0.1:8080/echo or http://127.0.0.1:8080',
    );
  }
  if (url.protocol === 'http:' || url.protocol === 'https:')
    url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new InvalidArgumentError('expected a ws://, wss://, http:// or https:// URL');
  }
  if (url.pathname === '/') url.pathname = defaultPath;
  return url.toString();
}

/** An `/rt` channel name: `namespace` or `namespace:name` (docs/protocol.md); the server checks the rest. */
export function parseChannel(raw: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}(:[A-Za-z0-9_.:=@-]+)?$/.test(raw) || raw.length > 200) {
    throw new InvalidArgumentError(
      'expected a channel such as broadcast or stream:bench (namespace[:name], at most 200 characters)',
    );
  }
  return raw;
}
