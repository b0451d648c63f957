/**
 * The network side of a simulated BMC: a UDP socket on its own loopback
 * address (port 623 by default, or any port), which moves when the BMC's LAN
 * address is set (as a real BMC does), and which can lose a share of the
 * datagrams it receives (fault injection).
 */
import type { Socket } from 'node:dgram';
import { bindUdp } from '../net/bind-udp.js';
import type { SimBmc } from './bmc.js';

/** Creates UDP sockets (node:dgram createSocket in production). */
export type UdpFactory = () => Socket;

/** A BMC listening on one address. */
export class BmcEndpoint {
  private sock: Socket | null = null;
  /** Address the BMC answers on right now. */
  address = '';
  /** Datagrams dropped by the loss fault. */
  dropped = 0;

  constructor(
    private readonly bmc: SimBmc,
    private readonly udp: UdpFactory,
    private readonly port: number,
    /** Share (0..1) of inbound datagrams dropped. */
    private readonly loss: number,
    private readonly random: () => number,
  ) {}

  /** Listen on `address` (closing the previous socket). */
  async listen(address: string): Promise<void> {
    await this.close();
    const s = this.udp();
    s.on('message', (m, r) => {
      if (this.loss > 0 && this.random() < this.loss) {
        this.dropped++;
        return;
      }
      const out = this.bmc.handle(m);
      if (out && this.sock === s) s.send(out, r.port, r.address);
    });
    s.on('error', () => {});
    await bindUdp(s, { address, port: this.port, exclusive: true });
    this.sock = s;
    this.address = address;
  }

  /** Stop listening. */
  async close(): Promise<void> {
    const s = this.sock;
    this.sock = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
