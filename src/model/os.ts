/**
 * Operating-system media known to the appliance (issue 9): installer trees
 * imported from an ISO or directory (kickstart/preseed/autoinstall) and root
 * images written by the discovery agent (image-based install).
 */

/** OS families with their own install-config format. */
export const OS_FAMILIES = ['debian', 'ubuntu', 'rhel'] as const;
/** An OS family. */
export type OsFamily = (typeof OS_FAMILIES)[number];

/** How a node gets this OS onto its disk. */
export type OsMethod = 'installer' | 'image';

/** One registered OS (a row of `os_media`). */
export interface OsMedia {
  /** Unique name, `<family>-<version>-<arch>` (installer) or `...-image` (image), e.g. `debian-12-amd64-image`. */
  name: string;
  family: OsFamily;
  /** Release, e.g. `12`, `24.04`, `9.4`. */
  version: string;
  /** Debian-style architecture name (`amd64`, `arm64`). */
  arch: string;
  method: OsMethod;
  /** Absolute directory on the appliance, served over HTTP at `/os/<name>/`. */
  dir: string;
  /** Installer kernel, relative to `dir` (installer media only). */
  kernel: string | null;
  /** Installer initrd, relative to `dir` (installer media only). */
  initrd: string | null;
  /** Root image file relative to `dir` (image media only). */
  image: string | null;
  /** Free-form facts (checksums, sizes, source ISO label, image format...). */
  meta: Record<string, unknown>;
  imported_at: number;
}
