import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DeliveryJob, DeliveryOutcome, Store } from './store/types.js';

const OUTCOMES: readonly DeliveryOutcome['kind'][] = ['acknowledged', 'retry', 'missed'];

// From a listener that answers at once to one that needed the whole retry schedule (about a day).
const LATENCY_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3_600, 4 * 3_600, 12 * 3_600, 24 * 3_600];

/**
 * The process's Prometheus metrics, in a registry of its own. Counters are fed by the HTTP
 * layer and the delivery worker; the backlog gauges ask the store when they are scraped.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly requestDuration: Histogram<'method' | 'route' | 'status_code'>;
  private readonly published: Counter;
  private readonly deliveries: Counter<'outcome'>;
  private readonly deliveryLatency: Histogram;

  constructor(store: Store) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requestDuration = new Histogram({
      name: 'discue_http_request_duration_seconds',
      help: 'Time to answer HTTP requests, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status_code'],
      registers,
    });
    this.published = new Counter({ name: 'discue_messages_published_total', help: 'Messages published through the API.', registers });
    this.deliveries = new Counter({
      name: 'discue_deliveries_total',
      help: 'Delivery attempts by outcome: acknowledged, retry (failed, tried again later) or missed (failed, retries used up).',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of OUTCOMES) this.deliveries.inc({ outcome }, 0);
    this.deliveryLatency = new Histogram({
      name: 'discue_delivery_latency_seconds',
      help: 'Time from a message being published to a listener acknowledging it.',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'discue_deliveries_pending',
      help: 'Deliveries waiting to be sent or in flight.',
      registers,
      async collect() {
        this.set(await store.countPendingDeliveries());
      },
    });
    new Gauge({
      name: 'discue_listeners',
      help: 'Listeners by liveness state.',
      labelNames: ['state'],
      registers,
      async collect() {
        for (const [state, count] of Object.entries(await store.countListenersByState())) this.set({ state }, count);
      },
    });
  }

  observeRequest(method: string, route: string, statusCode: number, seconds: number): void {
    this.requestDuration.observe({ method, route, status_code: statusCode }, seconds);
  }

  messagePublished(): void {
    this.published.inc();
  }

  /** For the delivery worker: counts an attempt and, when acknowledged, its latency. */
  readonly observeDelivery = (outcome: DeliveryOutcome, job: DeliveryJob): void => {
    this.deliveries.inc({ outcome: outcome.kind });
    if (outcome.kind === 'acknowledged') this.deliveryLatency.observe(Math.max(0, outcome.at - job.message.created_at) / 1000);
  };

  /** The exposition text and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
