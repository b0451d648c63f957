/** The raid barclamp's script role (barclamps/raid/roles/raid-configure/run.sh), run by sh under a scratch CB_ROOT. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const SCRIPT = resolve(import.meta.dirname, '../../barclamps/raid/roles/raid-configure/run.sh');
let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function run(attrs: { level: string; disks: string; apply: string }, mdstat?: string): { out: string; plan: string } {
  const root = mkdtempSync(join(tmpdir(), 'cb-raid-role-'));
  dirs.push(root);
  if (mdstat !== undefined) {
    mkdirSync(join(root, 'proc'));
    writeFileSync(join(root, 'proc', 'mdstat'), mdstat);
  }
  const env = { PATH: process.env.PATH, CB_ROOT: root, CB_ATTR_LEVEL: attrs.level, CB_ATTR_DISKS: attrs.disks, CB_ATTR_APPLY: attrs.apply };
  const out = execFileSync('sh', [SCRIPT], { env, encoding: 'utf8' });
  return { out, plan: readFileSync(join(root, 'var/lib/crowbar/raid.plan'), 'utf8') };
}

const ROOT_ON_RAID = 'Personalities : [raid1]\nmd127 : active raid1 vdb3[1] vda3[0]\n      4059136 blocks super 1.2 [2/2] [UU]\n\nunused devices: <none>\n';

describe('raid-configure role', () => {
  it('records the plan and stops there unless apply is true', () => {
    const r = run({ level: '1', disks: '/dev/vda /dev/vdb', apply: 'false' }, ROOT_ON_RAID);
    expect(r.plan).toBe('md0 level=1 devices=/dev/vda /dev/vdb\n');
    expect(r.out).toMatch(/^raid-configure: plan recorded/);
  });

  it('leaves an array that already holds every disk (the image install put the root on it) alone', () => {
    expect(run({ level: '1', disks: '/dev/vda /dev/vdb', apply: 'true' }, ROOT_ON_RAID).out).toMatch(/already in an active array, nothing to do/);
    // whole-disk members (hardware-install) and NVMe partitions count too
    expect(run({ level: '1', disks: '/dev/sda /dev/sdb', apply: 'true' }, 'md0 : active raid1 sdb[1] sda[0]\n').out).toMatch(/already in an active array/);
    expect(run({ level: '1', disks: '/dev/nvme0n1 /dev/nvme1n1', apply: 'true' }, 'md0 : active raid1 nvme1n1p3[1] nvme0n1p3[0]\n').out).toMatch(/already in an active array/);
  });

  it('goes on to create when a disk is not in an array (under CB_ROOT it stops before mdadm)', () => {
    // vdc is not a member; /dev/vd is only a prefix of the members' names
    expect(run({ level: '1', disks: '/dev/vda /dev/vdc', apply: 'true' }, ROOT_ON_RAID).out).toMatch(/test root, mdadm not run/);
    expect(run({ level: '1', disks: '/dev/vd /dev/vdb', apply: 'true' }, ROOT_ON_RAID).out).toMatch(/test root, mdadm not run/);
    expect(run({ level: '1', disks: '/dev/vda /dev/vdb', apply: 'true' }).out).toMatch(/test root, mdadm not run/);
  });
});
