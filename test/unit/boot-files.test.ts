import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BootFileSource, safeSegments } from '../../src/services/boot-files.js';
import { provisionIpxeLoaders } from '../../src/services/ipxe-loaders.js';
import { parseRange } from '../../src/api/range.js';
import { isCrowbarError } from '../../src/lib/errors.js';
import { memoryLogger } from '../../src/lib/logger.js';

let dir: string;
let src: BootFileSource;
const req = (path: string) => ({ path, remoteAddress: '10.0.0.5', protocol: 'tftp' as const });
async function read(path: string): Promise<string | null> {
  const f = await src.open(req(path));
  if (!f) return null;
  const b = Buffer.alloc(f.size);
  await f.read(b, 0, f.size, 0);
  await f.close();
  return b.toString();
}
async function refused(path: string): Promise<boolean> {
  try {
    const f = await src.open(req(path));
    await f?.close();
    return false;
  } catch (e) {
    return isCrowbarError(e, 'forbidden');
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'crowbar-bootfiles-'));
  mkdirSync(join(dir, 'root/sub'), { recursive: true });
  mkdirSync(join(dir, 'disc'));
  writeFileSync(join(dir, 'root/a.bin'), 'AAA');
  writeFileSync(join(dir, 'root/sub/b.bin'), 'BBB');
  writeFileSync(join(dir, 'root/secret'), 'S');
  chmodSync(join(dir, 'root/secret'), 0o600);
  writeFileSync(join(dir, 'outside.txt'), 'OUT');
  writeFileSync(join(dir, 'disc/vmlinuz'), 'KERNEL');
  symlinkSync(join(dir, 'outside.txt'), join(dir, 'root/escape'));
  symlinkSync('/etc', join(dir, 'root/etc'));
  symlinkSync('sub/b.bin', join(dir, 'root/inside-link'));
  src = new BootFileSource({ root: join(dir, 'root'), prefixes: [{ prefix: 'discovery', dir: join(dir, 'disc') }], now: () => 1_700_000_000_000 });
  src.addGenerator('pxelinux.cfg/', (r, rest) => (rest === '01-aa' ? Buffer.from(`hello ${r.remoteAddress}`) : null));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('BootFileSource', () => {
  it('serves static files, prefix roots, in-root symlinks and generated files', async () => {
    expect(await read('a.bin')).toBe('AAA');
    expect(await read('sub/b.bin')).toBe('BBB');
    expect(await read('discovery/vmlinuz')).toBe('KERNEL');
    expect(await read('inside-link')).toBe('BBB');
    expect(await read('pxelinux.cfg/01-aa')).toBe('hello 10.0.0.5');
    expect(await read('pxelinux.cfg/01-bb')).toBeNull();
    expect(await read('missing.bin')).toBeNull();
    expect(await read('sub')).toBeNull();
    expect(await read('discovery/missing')).toBeNull();
  });

  it('refuses escapes: .., absolute, symlinks out of the root, NUL, backslash, percent, control chars', async () => {
    for (const p of ['../outside.txt', 'sub/../../outside.txt', '/etc/passwd', 'escape', 'etc/passwd', 'a.bin\0', 'sub\\..\\..\\x', '%2e%2e/outside.txt', './a.bin', 'sub//b.bin', 'a\nb', 'discovery/../../outside.txt', 'secret'])
      expect(await refused(p), p).toBe(true);
    expect(await refused('x'.repeat(2000))).toBe(true);
    expect(() => safeSegments('')).toThrow();
  });

  it('copies the iPXE loaders into the root when missing and leaves present ones alone', () => {
    const ipxe = join(dir, 'ipxe');
    mkdirSync(ipxe);
    for (const n of ['undionly.kpxe', 'ipxe.efi']) writeFileSync(join(ipxe, n), n);
    const root = join(dir, 'newroot');
    mkdirSync(root);
    writeFileSync(join(root, 'ipxe.efi'), 'custom');
    const log = memoryLogger();
    const r = provisionIpxeLoaders(root, ipxe, log);
    expect(r).toEqual({ copied: ['undionly.kpxe'], present: ['ipxe.efi'], missing: ['snponly.efi'] });
    expect(log.records.some((x) => x.level === 'warn' && x.fields?.loader === 'snponly.efi')).toBe(true);
  });
});

describe('parseRange (RFC 9110 section 14)', () => {
  it('parses single ranges and refuses unsatisfiable ones', () => {
    expect(parseRange(undefined, 100)).toEqual({ kind: 'full' });
    expect(parseRange('bytes=0-9', 100)).toEqual({ kind: 'partial', start: 0, end: 9 });
    expect(parseRange('bytes=90-', 100)).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(parseRange('bytes=90-500', 100)).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(parseRange('bytes=-10', 100)).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(parseRange('bytes=-1000', 100)).toEqual({ kind: 'partial', start: 0, end: 99 });
    expect(parseRange('bytes=100-', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=5-3', 100)).toEqual({ kind: 'full' });
    expect(parseRange('bytes=0-1,5-6', 100)).toEqual({ kind: 'full' });
    expect(parseRange('items=0-1', 100)).toEqual({ kind: 'full' });
  });
});
