/**
 * Packing a barclamp directory into a tar.gz for upload (`crowbar barclamp
 * install DIR`). Symbolic links and special files are refused here already,
 * as the appliance would refuse them.
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CrowbarError } from '../lib/errors.js';
import { writeTar, type TarInput } from '../lib/tar.js';

/** tar.gz of `dir`, entries under `<basename(dir)>/`. */
export function packBarclampDir(dir: string): Buffer {
  const root = resolve(dir);
  const top = basename(root);
  const entries: TarInput[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      const st = lstatSync(p);
      const rel = `${top}/${relative(root, p)}`;
      if (st.isSymbolicLink()) throw new CrowbarError('bad_request', `${p}: symbolic links cannot be installed`);
      if (st.isDirectory()) {
        entries.push({ path: rel, type: 'directory' });
        walk(p);
      } else if (st.isFile()) entries.push({ path: rel, data: readFileSync(p), mode: st.mode & 0o111 ? 0o755 : 0o644 });
      else throw new CrowbarError('bad_request', `${p}: only regular files and directories can be installed`);
    }
  };
  walk(root);
  return gzipSync(writeTar(entries));
}
