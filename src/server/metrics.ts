import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { StoreHealth } from '../engine/store-health.js';
import type { LastResortStats } from './last-resort.js';

/**
 * Plain counters per endpoint. The hot path bumps numbers on this object; prom-client reads
 * them only when /metrics is scraped, so a fan-out to thousands of sockets pays no label
 * hashing per message.
 */
export class EndpointStats {
  open = 0;
  accepted = 0;
  messagesIn = 0;
  messagesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  drops = 0;
  slowDisconnects = 0;
  rateLimited = 0;
  readonly closes = new Map<number, number>();

  countClose(code: number): void {
    this.closes.set(code, (this.closes.get(code) ?? 0) + 1);
  }
}

type Field = Exclude<keyof EndpointStats, 'closes' | 'countClose'>;

/** The broker link as the hub counts it (see `Hub.counters`). */
export interface BrokerStats {
  up: boolean;
  brokerDowns: number;
  brokerReconnects: number;
  gapsRecovered: number;
  gapsLost: number;
}

/** Publications the hub skipped because they failed to encode or to be delivered (see `Hub.counters`). */
export interface DeliveryFailureStats {
  encodeFailures: number;
  deliveryFailures: number;
}

/** How fan-out wrote its deliveries (see `Hub.counters`). */
export interface FanoutStats {
  deliveries: number;
  groupDeliveries: number;
}

/**
 * The server's Prometheus registry (one per server, so several servers in one process do
 * not share counters).
 *
 * @example
 * ```ts
 * const text = await server.metrics.registry.metrics();
 * ```
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly endpoints = new Map<string, EndpointStats>();
  private readonly rejections = new Map<number, number>();

  constructor(
    opts: {
      defaultMetrics?: boolean;
      queuedBytes?: () => number;
      broker?: () => BrokerStats;
      failures?: () => DeliveryFailureStats;
      fanout?: () => FanoutStats;
      /** The process's last-resort handlers, when this server installed them. */
      uncaught?: () => LastResortStats;
      /** The stores with a file of their own (channels.db, runs.db). */
      stores?: () => StoreHealth[];
    } = {},
  ) {
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    const self = this;
    const perEndpoint = (name: string, help: string, field: Field, kind: 'counter' | 'gauge') => {
      const config = {
        name,
        help,
        labelNames: ['endpoint'] as const,
        registers: [this.registry],
        collect(this: Counter<'endpoint'> | Gauge<'endpoint'>) {
          this.reset();
          for (const [endpoint, stats] of self.endpoints) {
            if (this instanceof Gauge) this.set({ endpoint }, stats[field]);
            else this.inc({ endpoint }, stats[field]);
          }
        },
      };
      if (kind === 'gauge') new Gauge(config);
      else new Counter(config);
    };
    perEndpoint('wirehub_connections', 'Open WebSocket connections', 'open', 'gauge');
    perEndpoint(
      'wirehub_connections_accepted_total',
      'WebSocket connections accepted',
      'accepted',
      'counter',
    );
    perEndpoint('wirehub_messages_received_total', 'Messages received from clients', 'messagesIn', 'counter');
    perEndpoint('wirehub_messages_sent_total', 'Messages sent to clients', 'messagesOut', 'counter');
    perEndpoint('wirehub_received_bytes_total', 'Payload bytes received from clients', 'bytesIn', 'counter');
    perEndpoint('wirehub_sent_bytes_total', 'Payload bytes sent to clients', 'bytesOut', 'counter');
    perEndpoint(
      'wirehub_slow_consumer_drops_total',
      'Messages dropped because a client was over its output cap',
      'drops',
      'counter',
    );
    perEndpoint(
      'wirehub_slow_consumer_disconnects_total',
      'Clients closed with 4008 because they were over their output cap',
      'slowDisconnects',
      'counter',
    );
    perEndpoint(
      'wirehub_rate_limited_messages_total',
      'Inbound messages dropped because a client was over its message rate',
      'rateLimited',
      'counter',
    );
    new Counter({
      name: 'wirehub_closes_total',
      help: 'Closed WebSocket connections by endpoint and close code',
      labelNames: ['endpoint', 'code'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [endpoint, stats] of self.endpoints) {
          for (const [code, n] of stats.closes) this.inc({ endpoint, code: String(code) }, n);
        }
      },
    });
    const queuedBytes = opts.queuedBytes;
    if (queuedBytes) {
      new Gauge({
        name: 'wirehub_output_queued_bytes',
        help: 'Bytes queued for clients and not yet taken by the kernel',
        registers: [this.registry],
        collect() {
          this.set(queuedBytes());
        },
      });
    }
    const broker = opts.broker;
    if (broker) {
      new Gauge({
        name: 'wirehub_broker_up',
        help: '1 while the link to the broker (Redis) is up; always 1 with the embedded engine',
        registers: [this.registry],
        // Under --workers the scrape aggregates every worker: up only while every one is.
        aggregator: 'min',
        collect() {
          this.set(broker().up ? 1 : 0);
        },
      });
      // Plain totals read at scrape time.
      const total = (name: string, help: string, read: (stats: BrokerStats) => number) =>
        new Counter({
          name,
          help,
          registers: [this.registry],
          collect() {
            this.reset();
            this.inc(read(broker()));
          },
        });
      total(
        'wirehub_broker_disconnects_total',
        'Times the link to the broker (Redis) went down',
        (b) => b.brokerDowns,
      );
      total(
        'wirehub_broker_reconnects_total',
        'Times the link to the broker came back (subscriptions re-established and caught up)',
        (b) => b.brokerReconnects,
      );
      this.labelledTotals(
        'wirehub_broker_gaps_total',
        'Gaps detected in live channel subscriptions: recovered from history, or lost (clients resync)',
        'result',
        () => {
          const stats = broker();
          return { recovered: stats.gapsRecovered, lost: stats.gapsLost };
        },
      );
    }
    const failures = opts.failures;
    if (failures) {
      this.labelledTotals(
        'wirehub_delivery_failures_total',
        'Publications skipped in fan-out: the encoder could not encode them (skipped for its subscribers), or delivering to one subscriber threw (skipped for it)',
        'stage',
        () => {
          const stats = failures();
          return { encode: stats.encodeFailures, deliver: stats.deliveryFailures };
        },
      );
    }
    const fanout = opts.fanout;
    if (fanout) {
      this.labelledTotals(
        'wirehub_fanout_deliveries_total',
        'Publications delivered to local subscribers, by how they were written: one send per subscriber, or one group publish for many (Bun topics)',
        'path',
        () => {
          const stats = fanout();
          return { send: stats.deliveries - stats.groupDeliveries, group: stats.groupDeliveries };
        },
      );
    }
    const uncaught = opts.uncaught;
    if (uncaught) {
      this.labelledTotals(
        'wirehub_uncaught_errors_total',
        'Errors that escaped every handler and reached the last resort (logged; the process kept serving): bugs to fix',
        'kind',
        () => {
          const stats = uncaught();
          return { exception: stats.uncaughtExceptions, rejection: stats.unhandledRejections };
        },
      );
    }
    const stores = opts.stores;
    if (stores) {
      new Counter({
        name: 'wirehub_store_errors_total',
        help: 'Failed reads and writes of a store file, by store (channels, runs); each makes /readyz 503 until a write succeeds',
        labelNames: ['store'] as const,
        registers: [this.registry],
        collect() {
          this.reset();
          for (const health of stores()) this.inc({ store: health.store }, health.errors);
        },
      });
      new Gauge({
        name: 'wirehub_store_up',
        help: '1 while a store file works, 0 while it fails or is damaged (then /readyz answers 503)',
        labelNames: ['store'] as const,
        registers: [this.registry],
        collect() {
          this.reset();
          for (const health of stores()) this.set({ store: health.store }, health.problem ? 0 : 1);
        },
      });
    }
    new Counter({
      name: 'wirehub_upgrade_rejections_total',
      help: 'WebSocket upgrades refused, by HTTP status',
      labelNames: ['status'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [status, n] of self.rejections) this.inc({ status: String(status) }, n);
      },
    });
  }

  /** The counters of one endpoint, created on first use. */
  endpoint(name: string): EndpointStats {
    let stats = this.endpoints.get(name);
    if (!stats) {
      stats = new EndpointStats();
      this.endpoints.set(name, stats);
    }
    return stats;
  }

  /** Every endpoint's counters, by endpoint name (for the status route). */
  endpointStats(): ReadonlyMap<string, EndpointStats> {
    return this.endpoints;
  }

  /** A counter with one label whose totals per label value are read at scrape time. */
  private labelledTotals(
    name: string,
    help: string,
    label: string,
    read: () => Record<string, number>,
  ): void {
    new Counter({
      name,
      help,
      labelNames: [label],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [value, n] of Object.entries(read())) this.inc({ [label]: value }, n);
      },
    });
  }

  countRejection(status: number): void {
    this.rejections.set(status, (this.rejections.get(status) ?? 0) + 1);
  }
}
