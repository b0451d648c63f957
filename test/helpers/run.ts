/** Running a real client program in a test: output collected, killed after a timeout. */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Run `cmd args`; resolves with the exit code (null when killed) and stdout+stderr. */
export function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
}

/** SHA-256 of a file, hex. */
export const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');
