/**
 * Image-based install (docs/image-install.md): what the discovery agent needs
 * to write a node's root image to disk. A node in an OS-install state whose
 * chosen medium (OsSelection) is an image gets a plan: the image URL on the
 * appliance with its checksum and format, and the node's identity and admin
 * network settings for the installed system. No secret is part of a plan;
 * the join token is fetched separately with the node token.
 */
import { CrowbarError } from '../lib/errors.js';
import type { Node } from '../model/node.js';
import type { OsMedia } from '../model/os.js';
import type { DiskPlan } from '../boot/install-config.js';

/** Everything the agent writes onto the disk besides the image itself (flat: the busybox agent reads it with sed). */
export interface ImageInstallPlan {
  os: string;
  /** http(s) URL of the image (served from `/os/<medium>/<file>`). */
  image_url: string;
  image_sha256: string;
  /** Archive format the agent unpacks: `tar.zst` (images/build-root-image.sh) or `tar.gz`. */
  image_format: string;
  image_size: number;
  /** Short host name and DNS domain of the node. */
  hostname: string;
  domain: string;
  /** Admin network: the node's address and prefix length, router (or empty), DNS server. */
  admin_address: string;
  admin_prefix: number;
  admin_router: string;
  admin_dns: string;
  /** URL the installed node's join agent talks to. */
  appliance_url: string;
  /**
   * Root disk layout (the raid barclamp's, as for installer media): `single` (the agent
   * picks the first whole disk) or `raid1` (software RAID 1 across `disks`).
   */
  disk_layout: DiskPlan['layout'];
  /** Kernel names of the disks the layout uses, space-separated (`vda vdb`). */
  disks: string;
}

/** What the planner needs. */
export interface ImageInstallDeps {
  /** The node's OS medium (throws os.none / os.missing when unresolved). */
  mediaFor(node: Node): OsMedia;
  /** The node's admin address, allocated idempotently. */
  adminAddress(node: Node): string;
  /** Admin network prefix length and router. */
  adminNetwork(): { prefix: number; router: string | null; dns: string };
  /** The node's disk layout (from its inventory and the raid proposal listing it). */
  diskPlan(node: Node): DiskPlan;
  publicUrl: string;
  domain: string;
}

/** Image formats the discovery agent can stream to disk. */
export const IMAGE_FORMATS: ReadonlySet<string> = new Set(['tar.zst', 'tar.gz']);

/** Builds image-install plans. */
export class ImageInstallPlanner {
  constructor(private readonly d: ImageInstallDeps) {}

  /** The medium of `node` when it is an image, else null (installer media, nothing chosen or not imported). */
  imageMedium(node: Node): OsMedia | null {
    try {
      const m = this.d.mediaFor(node);
      return m.method === 'image' ? m : null;
    } catch (e) {
      if (e instanceof CrowbarError && (e.code === 'os.none' || e.code === 'os.missing')) return null;
      throw e;
    }
  }

  /** The plan for `node`, or null when its OS is not an image. Throws os.missing for an unusable image medium. */
  plan(node: Node): ImageInstallPlan | null {
    const m = this.imageMedium(node);
    if (!m) return null;
    const sha = m.meta.sha256;
    const format = typeof m.meta.format === 'string' ? m.meta.format : 'tar.gz';
    if (!m.image || typeof sha !== 'string' || !/^[0-9a-f]{64}$/.test(sha)) throw new CrowbarError('os.missing', `OS medium ${m.name} has no image file with a sha256 (re-import it)`);
    if (!IMAGE_FORMATS.has(format)) throw new CrowbarError('os.missing', `OS medium ${m.name}: image format ${format} is not supported (supported: ${[...IMAGE_FORMATS].join(', ')})`);
    const net = this.d.adminNetwork();
    const disks = this.d.diskPlan(node);
    const short = node.name.split('.')[0];
    return {
      os: m.name,
      image_url: `${this.d.publicUrl}/os/${encodeURIComponent(m.name)}/${m.image.split('/').map(encodeURIComponent).join('/')}`,
      image_sha256: sha,
      image_format: format,
      image_size: typeof m.meta.size === 'number' ? m.meta.size : 0,
      hostname: short,
      domain: this.d.domain,
      admin_address: this.d.adminAddress(node),
      admin_prefix: net.prefix,
      admin_router: net.router ?? '',
      admin_dns: net.dns,
      appliance_url: this.d.publicUrl,
      disk_layout: disks.layout,
      disks: disks.disks.join(' '),
    };
  }
}
