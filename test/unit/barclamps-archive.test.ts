import { describe, expect, it, afterEach } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { readTar, writeTar } from '../../src/lib/tar.js';
import { checkArchive, checkEntryPath, gunzipIfNeeded, writeEntries } from '../../src/barclamps/archive.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'cb-tar-'));
  dirs.push(d);
  return d;
}

describe('tar codec', () => {
  it('round-trips files, directories, long names and links', () => {
    const long = 'a/' + 'x'.repeat(150) + '/file.txt';
    const tar = writeTar([
      { path: 'bc', type: 'directory' },
      { path: 'bc/crowbar.yml', data: 'barclamp: {}\n' },
      { path: long, data: Buffer.alloc(1000, 7), mode: 0o755 },
      { path: 'bc/link', type: 'symlink', linkname: '/etc/passwd' },
    ]);
    expect(tar.length % 512).toBe(0);
    const e = readTar(tar);
    expect(e.map((x) => [x.path, x.type])).toEqual([
      ['bc', 'directory'],
      ['bc/crowbar.yml', 'file'],
      [long, 'file'],
      ['bc/link', 'symlink'],
    ]);
    expect(e[2].data.equals(Buffer.alloc(1000, 7))).toBe(true);
    expect(e[2].mode).toBe(0o755);
    expect(e[3].linkname).toBe('/etc/passwd');
  });

  it('reads archives made by GNU tar (ustar prefix, pax)', () => {
    const src = tmp();
    execFileSync('sh', ['-c', `mkdir -p ${src}/bc/roles/r && printf 'x' > ${src}/bc/crowbar.yml && printf '#!/bin/sh\\n' > ${src}/bc/roles/r/run.sh && ln -s ../crowbar.yml ${src}/bc/roles/link`]);
    const tarFile = join(src, 'a.tar');
    execFileSync('tar', ['--format=pax', '-C', src, '-cf', tarFile, 'bc']);
    const entries = readTar(readFileSync(tarFile));
    const byPath = Object.fromEntries(entries.map((e) => [e.path.replace(/\/$/, ''), e]));
    expect(byPath['bc/crowbar.yml'].data.toString()).toBe('x');
    expect(byPath['bc/roles/link'].type).toBe('symlink');
    expect(byPath['bc/roles/r'].type).toBe('directory');
  });

  it('rejects a corrupted header checksum and truncation', () => {
    const tar = writeTar([{ path: 'crowbar.yml', data: 'x'.repeat(600) }]);
    const bad = Buffer.from(tar);
    bad[0] ^= 1;
    expect(() => readTar(bad)).toThrow(/checksum/);
    expect(() => readTar(tar.subarray(0, 700))).toThrow(/truncated/);
  });
});

describe('safe extraction', () => {
  const ok = (extra: Parameters<typeof writeTar>[0]) => writeTar([{ path: 'bc/crowbar.yml', data: 'x' }, ...extra]);

  it('refuses path escapes, absolute paths, links and devices before writing anything', () => {
    const cases: Array<[Parameters<typeof writeTar>[0], RegExp]> = [
      [[{ path: 'bc/../../evil', data: 'x' }], /'\.\.' path segment/],
      [[{ path: '../evil', data: 'x' }], /'\.\.' path segment/],
      [[{ path: '/tmp/evil', data: 'x' }], /absolute path/],
      [[{ path: 'bc/link', type: 'symlink', linkname: '/etc' }], /symlink refused/],
      [[{ path: 'bc/hard', type: 'hardlink', linkname: 'bc/crowbar.yml' }], /hardlink refused/],
    ];
    for (const [entries, re] of cases) expect(() => checkArchive(ok(entries))).toThrow(re);
    // A character device header (type '3') crafted by hand.
    const dev = Buffer.from(writeTar([{ path: 'bc/dev', data: '' }]));
    dev[156] = '3'.charCodeAt(0);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : dev[i];
    dev.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
    expect(() => checkArchive(Buffer.concat([writeTar([{ path: 'bc/crowbar.yml', data: 'x' }]).subarray(0, 1024), dev]))).toThrow(/char-device refused/);
  });

  it('checks paths', () => {
    expect(checkEntryPath('./a//b/')).toBe('a/b');
    expect(() => checkEntryPath('a\\..\\b')).toThrow(/backslash/);
    expect(() => checkEntryPath('a/\0')).toThrow(/NUL/);
  });

  it('strips one top-level directory, masks modes, refuses an existing target', () => {
    const tar = gzipSync(writeTar([{ path: 'bc', type: 'directory' }, { path: 'bc/crowbar.yml', data: 'm', mode: 0o4777 }, { path: 'bc/roles/x/run.sh', data: '#!/bin/sh\n', mode: 0o700 }]));
    const entries = checkArchive(gunzipIfNeeded(tar));
    expect(entries.map((e) => e.path).sort()).toEqual(['crowbar.yml', 'roles/x/run.sh']);
    const d = join(tmp(), 'out');
    writeEntries(d, entries);
    expect(statSync(join(d, 'crowbar.yml')).mode & 0o7777).toBe(0o755);
    expect(statSync(join(d, 'roles/x/run.sh')).mode & 0o7777).toBe(0o755);
    expect(() => writeEntries(d, entries)).toThrow(/already exists/);
  });

  it('refuses a gzip bomb beyond the limit and an archive without crowbar.yml', () => {
    const bomb = gzipSync(Buffer.alloc(5 * 1024 * 1024));
    expect(() => gunzipIfNeeded(bomb, { maxCompressedBytes: 1 << 20, maxUncompressedBytes: 1 << 20, maxEntries: 10 })).toThrow(/expands beyond/);
    expect(() => checkArchive(writeTar([{ path: 'a/x', data: '' }, { path: 'b/y', data: '' }]))).toThrow(/no crowbar.yml/);
    const d = tmp();
    expect(readdirSync(d)).toEqual([]);
    expect(existsSync(join(d, 'evil'))).toBe(false);
  });
});
