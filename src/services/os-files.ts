/**
 * OS media trees as a file source: `<name>/<path>` resolves inside the
 * registered medium's directory with the same confinement as boot files
 * (no `..`, no symlinks out, regular world-readable files only). Served at
 * `/os/{path*}` without authentication: installers and the image-install
 * agent fetch repositories and root images from here, and media hold no
 * secrets (per-node configuration is rendered elsewhere, behind tokens).
 */
import type { OsMediaRepo } from '../store/os-media.js';
import { openConfined, safeSegments, type FileRequest, type FileSource, type SourceFile } from './boot-files.js';

/** Files of registered OS media. */
export class OsFileSource implements FileSource {
  constructor(private readonly repo: OsMediaRepo) {}

  async open(req: FileRequest): Promise<SourceFile | null> {
    const segs = safeSegments(req.path);
    if (segs.length < 2) return null;
    const medium = this.repo.get(segs[0]);
    if (!medium) return null;
    return openConfined(medium.dir, segs.slice(1));
  }
}
