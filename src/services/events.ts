/**
 * In-process event bus for node and proposal changes. The API's event stream
 * (SSE) and webhooks subscribe here; publishers never wait for subscribers.
 */

/** An event published to subscribers. */
export interface BusEvent {
  type: string;
  at: number;
  data: Record<string, unknown>;
}

/** A bounded fan-out of events to subscribers. */
export class EventBus {
  private readonly subs = new Set<(e: BusEvent) => void>();

  /** Subscribe; returns the unsubscribe function. */
  subscribe(fn: (e: BusEvent) => void): () => void {
    this.subs.add(fn);
    return () => this.subs.delete(fn);
  }

  /** Publish to every subscriber; a throwing subscriber does not affect others. */
  publish(e: BusEvent): void {
    for (const s of this.subs) {
      try {
        s(e);
      } catch {
        /* a subscriber's failure is its own */
      }
    }
  }
}
