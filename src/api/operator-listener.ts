/**
 * A second TCP port for operators (`services.http.operator_port`): the same
 * routes, auth and sessions (accepted connections are handed to the API
 * server's HTTP listener), but its own accept queue. During a rack's boot
 * burst hundreds of machine connections wait in the main port's accept
 * queue, and an operator's new connection waited behind them for seconds
 * even when the API itself answered in milliseconds (docs/simulator.md). As
 * in Dell's Crowbar, where the web UI (port 3000) and the provisioner's
 * HTTP (port 8091) were separate, operators can use their own port.
 */
import { createServer, type Server as NetServer } from 'node:net';
import type { Server as HttpServer } from 'node:http';

/** Start accepting operator connections on `host:port` into `listener`; resolves once listening. */
export function listenForOperators(listener: HttpServer, host: string, port: number): Promise<NetServer> {
  const server = createServer({ noDelay: true }, (socket) => listener.emit('connection', socket));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog: 511 }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** Stop accepting (open connections belong to the API server and close with it). */
export function closeOperatorListener(server: NetServer | null): Promise<void> {
  return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
}
