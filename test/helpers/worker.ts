/**
 * Client side of test/helpers/ipmi-worker.ts: spawn it in a namespace and
 * call ops (JSON lines over stdio).
 */
import { join } from 'node:path';
import type { NetnsPair } from './netns.js';
import { ROOT } from './appliance.js';

/** A worker process in a namespace. */
export interface NsWorker {
  call<T = any>(op: string, args?: Record<string, unknown>): Promise<{ ok: true; result: T } | { ok: false; error: { code: string; message: string } }>;
  /** call() that throws on an error answer. */
  must<T = any>(op: string, args?: Record<string, unknown>): Promise<T>;
  stderr(): string;
  stop(): void;
}

/** Start the IPMI worker inside namespace `ns`. */
export async function startWorker(pair: NetnsPair, ns: string): Promise<NsWorker> {
  const proc = pair.spawn(ns, [process.execPath, '--import', 'tsx', join(ROOT, 'test/helpers/ipmi-worker.ts')], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let buf = '';
  let err = '';
  let seq = 0;
  const pending = new Map<number, (v: any) => void>();
  let ready!: () => void;
  const readyP = new Promise<void>((r) => (ready = r));
  proc.stderr!.on('data', (d) => (err += d));
  proc.stdout!.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const m = JSON.parse(line);
      if (m.id === 0) ready();
      pending.get(m.id)?.(m);
      pending.delete(m.id);
    }
  });
  const exited = new Promise<void>((_, rej) => proc.on('exit', (c) => rej(new Error(`worker exited ${c}: ${err}`))));
  exited.catch(() => {});
  await Promise.race([readyP, exited]);
  const w: NsWorker = {
    call(op, args = {}) {
      const id = ++seq;
      return new Promise((res) => {
        pending.set(id, res);
        proc.stdin!.write(JSON.stringify({ id, op, ...args }) + '\n');
      });
    },
    async must(op, args) {
      const r = await w.call(op, args);
      if (!r.ok) throw new Error(`${op}: ${r.error.code}: ${r.error.message}`);
      return r.result;
    },
    stderr: () => err,
    stop: () => {
      proc.stdin!.end();
      proc.kill('SIGKILL');
    },
  };
  return w;
}
