/**
 * The few parts of Bun's server API that wirehub's native transport uses. Bun's own types
 * (`bun-types`) are not a dependency: the build runs on Node, and this file is all it needs.
 */
export interface BunServerWebSocket<T> {
  data: T;
  readonly readyState: number;
  /** Bytes sent (> 0), -1 queued under backpressure, 0 dropped. */
  send(data: string | Uint8Array, compress?: boolean): number;
  sendText(data: string, compress?: boolean): number;
  sendBinary(data: Uint8Array, compress?: boolean): number;
  close(code?: number, reason?: string): void;
  terminate(): void;
  ping(data?: string | Uint8Array): number;
  getBufferedAmount(): number;
  /** Joins a topic (false when closed; true also when already in it). */
  subscribe(topic: string): boolean;
  /** Leaves a topic (false when not in it or closed). */
  unsubscribe(topic: string): boolean;
  isSubscribed(topic: string): boolean;
}

export interface BunWebSocketHandler<T> {
  open?(ws: BunServerWebSocket<T>): void;
  message(ws: BunServerWebSocket<T>, message: string | Buffer): void;
  close?(ws: BunServerWebSocket<T>, code: number, reason: string): void;
  pong?(ws: BunServerWebSocket<T>, data: Buffer): void;
  maxPayloadLength?: number;
  idleTimeout?: number;
  perMessageDeflate?: boolean;
  sendPings?: boolean;
  backpressureLimit?: number;
  closeOnBackpressureLimit?: boolean;
}

export interface BunServer {
  readonly port: number;
  readonly hostname: string;
  upgrade(req: Request, options?: { headers?: Record<string, string>; data?: unknown }): boolean;
  requestIP(req: Request): { address: string; family: string; port: number } | null;
  stop(closeActiveConnections?: boolean): Promise<void>;
  /** Sends to every socket subscribed to `topic` (a string as a text frame, bytes as binary). */
  publish(topic: string, data: string | Uint8Array, compress?: boolean): number;
}

export interface BunServeOptions<T> {
  hostname: string;
  port: number;
  tls?: { cert: string | Buffer; key: string | Buffer };
  maxRequestBodySize?: number;
  /** SO_REUSEPORT: several processes listen on one port and the kernel spreads connections. */
  reusePort?: boolean;
  fetch(req: Request, server: BunServer): Response | Promise<Response | undefined> | undefined;
  websocket: BunWebSocketHandler<T>;
}

/** `globalThis.Bun`, when this process runs under Bun. */
export function bunRuntime(): { serve<T>(options: BunServeOptions<T>): BunServer } | undefined {
  return (globalThis as { Bun?: { serve<T>(options: BunServeOptions<T>): BunServer } }).Bun;
}
