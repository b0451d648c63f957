/**
 * Benchmark contender: the design card's package, dns2@3.1.1, serving the
 * same hosts file (A + PTR) through its README answer pattern, so the bench
 * shows what our own codec buys. Usage: tsx bench/dns2-server.ts HOSTS ADDRESS PORT
 */
import { readFileSync } from 'node:fs';
import dns2 from 'dns2';

interface Answer {
  name: string;
  type: number;
  class: number;
  ttl: number;
  address?: string;
  domain?: string;
}
// dns2's own typings do not cover the packet helpers used here; keep the shape local.
const lib = dns2 as unknown as {
  Packet: {
    TYPE: Record<string, number>;
    CLASS: Record<string, number>;
    createResponseFromRequest(req: unknown): { answers: Answer[]; header: { aa: number; rcode: number } };
  };
  createServer(o: { udp: boolean; handle: (req: { questions: Array<{ name: string; type: number }> }, send: (r: unknown) => void) => void }): {
    listen(o: { udp: { port: number; address: string } }): Promise<void>;
  };
};
const { Packet } = lib;
const [hostsFile, address, port] = process.argv.slice(2);
const a = new Map<string, string>();
const ptr = new Map<string, string>();
for (const line of readFileSync(hostsFile, 'utf8').split('\n')) {
  const [ip, name] = line.trim().split(/\s+/);
  if (!ip || !name) continue;
  a.set(name.toLowerCase(), ip);
  ptr.set(ip.split('.').reverse().join('.') + '.in-addr.arpa', name);
}
const server = lib.createServer({
  udp: true,
  handle: (req, send) => {
    const res = Packet.createResponseFromRequest(req);
    const q = req.questions[0];
    const name = q.name.toLowerCase();
    res.header.aa = 1;
    if (q.type === Packet.TYPE.A && a.has(name)) res.answers.push({ name: q.name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 60, address: a.get(name) });
    else if (q.type === Packet.TYPE.PTR && ptr.has(name)) res.answers.push({ name: q.name, type: Packet.TYPE.PTR, class: Packet.CLASS.IN, ttl: 60, domain: ptr.get(name) });
    else res.header.rcode = 3;
    send(res);
  },
});
await server.listen({ udp: { port: Number(port), address } });
