/**
 * Running external programs (ipmitool, mdadm, ...) behind an injectable
 * interface: arguments as an array (no shell), extra environment (for
 * secrets that must not appear in argv), a timeout that kills the process,
 * and bounded output.
 */
import { execFile } from 'node:child_process';

/** Result of a finished command. */
export interface CommandResult {
  /** Exit code; null when killed (timeout or signal). */
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Options of one run. */
export interface CommandOptions {
  /** Extra environment variables (merged over the current environment). */
  env?: Record<string, string>;
  timeoutMs: number;
}

/** Runs a program; never rejects for a non-zero exit (only when it cannot start). */
export type CommandRunner = (cmd: string, args: readonly string[], o: CommandOptions) => Promise<CommandResult>;

/** The real runner (node:child_process.execFile, 1 MiB output cap). */
export const execFileRunner: CommandRunner = (cmd, args, o) =>
  new Promise((resolve, reject) => {
    execFile(
      cmd,
      [...args],
      { env: { ...process.env, ...o.env }, timeout: o.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') return reject(err);
        const killed = !!err && (err as { killed?: boolean }).killed === true;
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null) : 0;
        resolve({ code, stdout, stderr, timedOut: killed });
      },
    );
  });
