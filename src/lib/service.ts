/**
 * A long-running part of the appliance (a protocol server, the HTTP API, a
 * background worker). All services start together and stop together under one
 * abort signal owned by the composition root.
 */
export interface Service {
  /** Short name used in logs and errors ("dhcp", "http", ...). */
  readonly name: string;
  /**
   * Starts listening; rejects if the service cannot start. After start, a
   * failure the service cannot recover from is reported through `fatal`,
   * which stops the whole appliance with a non-zero exit.
   */
  start(signal: AbortSignal, fatal: (e: Error) => void): Promise<void>;
  /** Stops and releases sockets; must resolve quickly (the root allows 5 s in total). */
  stop(): Promise<void>;
}

/** Wrap start/stop closures as a Service. */
export function service(name: string, start: Service['start'], stop: Service['stop']): Service {
  return { name, start, stop };
}
