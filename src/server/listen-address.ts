/** Where a listening server can be reached. */
export interface ListenAddress {
  host: string;
  port: number;
  /** `http://host:port` (`https://` with TLS) */
  url: string;
  /** `ws://host:port` (`wss://` with TLS) */
  wsUrl: string;
}

/**
 * The address of a server bound to `address:port`, with its URLs (IPv6 in brackets).
 * @example `listenAddress('127.0.0.1', 8080, false).wsUrl // 'ws://127.0.0.1:8080'`
 */
export function listenAddress(address: string, port: number, secure: boolean): ListenAddress {
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    host: address,
    port,
    url: `${secure ? 'https' : 'http'}://${host}:${port}`,
    wsUrl: `${secure ? 'wss' : 'ws'}://${host}:${port}`,
  };
}
