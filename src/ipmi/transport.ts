/**
 * The UDP transport the IPMI client talks through. It is injected (a socket
 * factory) so unit tests can plug a fake BMC in; `dgramSocketFactory` is the
 * real one, wired by the composition root. One socket per session, on an
 * ephemeral port, like ipmitool.
 */
import { createSocket } from 'node:dgram';

/** Where a datagram came from. */
export interface UdpEndpoint {
  address: string;
  port: number;
}

/** The part of a UDP socket the IPMI client needs. */
export interface UdpSocket {
  /** Send a datagram; resolves when handed to the kernel, rejects on a local send error. */
  send(buf: Buffer, port: number, address: string): Promise<void>;
  /** Register the (single) receive handler. */
  onMessage(fn: (buf: Buffer, from: UdpEndpoint) => void): void;
  /** Close the socket (idempotent). */
  close(): void;
}

/** Creates a bound UDP socket. */
export type UdpSocketFactory = () => Promise<UdpSocket>;

/** Real UDP sockets (node:dgram), bound to an ephemeral port on all addresses. */
export const dgramSocketFactory: UdpSocketFactory = () =>
  new Promise<UdpSocket>((resolve, reject) => {
    const s = createSocket('udp4');
    let closed = false;
    let handler: (buf: Buffer, from: UdpEndpoint) => void = () => {};
    s.on('message', (msg, rinfo) => handler(msg, { address: rinfo.address, port: rinfo.port }));
    // Errors (ICMP-induced or otherwise) are reported per send; never crash the process.
    s.on('error', () => {});
    s.once('listening', () =>
      resolve({
        send: (buf, port, address) =>
          new Promise<void>((res, rej) => {
            if (closed) return rej(new Error('socket closed'));
            s.send(buf, port, address, (err) => (err ? rej(err) : res()));
          }),
        onMessage: (fn) => {
          handler = fn;
        },
        close: () => {
          if (closed) return;
          closed = true;
          try {
            s.close();
          } catch {
            /* already closed */
          }
        },
      }),
    );
    try {
      s.bind(0);
    } catch (e) {
      reject(e);
    }
  });
