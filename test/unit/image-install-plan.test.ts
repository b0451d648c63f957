/** The image-install plan (src/services/image-install.ts): what the discovery agent writes to disk. */
import { describe, expect, it } from 'vitest';
import { diskPlan } from '../../src/boot/install-config.js';
import { CrowbarError } from '../../src/lib/errors.js';
import type { Node } from '../../src/model/node.js';
import type { OsMedia } from '../../src/model/os.js';
import { ImageInstallPlanner, type ImageInstallDeps } from '../../src/services/image-install.js';

const SHA = 'a'.repeat(64);
const medium = (over: Partial<OsMedia> = {}): OsMedia => ({
  name: 'debian-12-amd64-image',
  family: 'debian',
  version: '12',
  arch: 'amd64',
  method: 'image',
  dir: '/var/lib/crowbar/os/debian-12-amd64-image',
  kernel: null,
  initrd: null,
  image: 'root.tar.gz',
  meta: { sha256: SHA, format: 'tar.gz', size: 123 },
  imported_at: 0,
  ...over,
});
const node = (disks: string[]): Node =>
  ({ id: 7, name: 'd52-54-00-00-00-07.lab.test', macs: ['52:54:00:00:00:07'], inventory: { disks: disks.map((name) => ({ name })) } }) as unknown as Node;

function planner(m: OsMedia, raid: { level: string; disks: string[] } | null): ImageInstallPlanner {
  const deps: ImageInstallDeps = {
    mediaFor: () => m,
    adminAddress: () => '10.9.8.20',
    adminNetwork: () => ({ prefix: 24, router: '10.9.8.254', dns: '10.9.8.1' }),
    diskPlan: (n) => diskPlan(n.inventory.disks, raid),
    publicUrl: 'http://10.9.8.1',
    domain: 'lab.test',
  };
  return new ImageInstallPlanner(deps);
}

describe('ImageInstallPlanner', () => {
  it('plans a single disk without a raid proposal, and RAID 1 over two disks with one', () => {
    const single = planner(medium(), null).plan(node(['vda', 'vdb']))!;
    expect(single).toMatchObject({ image_url: 'http://10.9.8.1/os/debian-12-amd64-image/root.tar.gz', image_sha256: SHA, hostname: 'd52-54-00-00-00-07', disk_layout: 'single', disks: 'vda' });
    const raid = planner(medium(), { level: '1', disks: ['/dev/vda', '/dev/vdb'] }).plan(node(['vda', 'vdb']))!;
    expect(raid).toMatchObject({ disk_layout: 'raid1', disks: 'vda vdb' });
    // one disk: RAID 1 cannot be built, the plan says so instead of failing on the machine
    expect(planner(medium(), { level: '1', disks: ['/dev/vda', '/dev/vdb'] }).plan(node(['vda']))).toMatchObject({ disk_layout: 'single', disks: 'vda' });
    // a controller's RAID volume is one disk to the OS
    expect(planner(medium(), { level: '1', disks: ['252:0', '252:1'] }).plan(node(['sda']))).toMatchObject({ disk_layout: 'single', disks: 'sda' });
  });

  it('every plan value is flat and free of quotes (the busybox agent reads it with sed)', () => {
    const p = planner(medium(), { level: '1', disks: [] }).plan(node(['sda', 'sdb']))!;
    for (const [k, v] of Object.entries(p)) {
      expect(['string', 'number']).toContain(typeof v);
      if (typeof v === 'string') expect(v, k).not.toMatch(/["\\\n]/);
    }
  });

  it('refuses an image medium without a checksum or in a format the agent cannot write', () => {
    const code = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        return e instanceof CrowbarError ? `${e.code}: ${e.message}` : String(e);
      }
      return 'no error';
    };
    expect(code(() => planner(medium({ meta: { format: 'tar.gz' } }), null).plan(node(['vda'])))).toMatch(/^os\.missing: .*sha256/);
    expect(code(() => planner(medium({ meta: { sha256: SHA, format: 'qcow2' } }), null).plan(node(['vda'])))).toMatch(/^os\.missing: .*qcow2 is not supported/);
    expect(planner(medium({ method: 'installer', image: null }), null).plan(node(['vda']))).toBeNull();
    // what images/build-root-image.sh writes
    expect(planner(medium({ image: 'root.tar.zst', meta: { sha256: SHA, format: 'tar.zst' } }), null).plan(node(['vda']))).toMatchObject({ image_format: 'tar.zst', image_url: 'http://10.9.8.1/os/debian-12-amd64-image/root.tar.zst' });
  });
});
