/**
 * `wirehub serve` flags that turn off the limits a benchmark's load would trip: all load comes
 * from this machine's few addresses and from clients that send flat out, so the per-IP
 * connection count, the per-IP upgrade rate and the per-connection message rate (each on by
 * default; 0 turns one off) would refuse it. Real clients have addresses of their own.
 */
export const NO_LIMITS: readonly string[] = [
  '--max-connections-per-ip',
  '0',
  '--ip-connection-rate',
  '0',
  '--message-rate',
  '0',
];
