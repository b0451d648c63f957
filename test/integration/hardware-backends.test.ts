/**
 * images/agent/raid.sh and bios.sh through hardware-install.sh under busybox
 * sh, with fake vendor CLIs on PATH (no RAID controller or UEFI variables on
 * this host): the one RAID interface picks software RAID for block devices
 * and the controller CLI that reports a controller for drive ids
 * (storcli/perccli: `/c0 add vd`, ssacli: `ctrl slot=N create type=ld`),
 * detects existing volumes, and reports CLI failures; BIOS settings go to
 * efibootmgr (boot order by entry class, read back) or to the vendor tool,
 * and settings nothing here can apply are reported as `partial`.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { have } from '../helpers/netns.js';
import { ROOT } from '../helpers/appliance.js';

const SCRIPT = join(ROOT, 'images/agent/hardware-install.sh');
const tmp = mkdtempSync(join(tmpdir(), 'crowbar-hwb-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** A directory with fake commands (name -> sh body; argv is appended to $CALLS). */
function fakes(cmds: Record<string, string>): { bin: string; calls: () => string[] } {
  const dir = join(tmp, `bin${n++}`);
  mkdirSync(dir);
  const calls = join(dir, 'calls.log');
  for (const [name, body] of Object.entries(cmds)) {
    writeFileSync(join(dir, name), `#!/bin/sh\necho "${name} $*" >> '${calls}'\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  }
  return { bin: dir, calls: () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n') : []) };
}

function run(instr: string, env: Record<string, string>, bin?: string) {
  const file = join(tmp, `instr-${n++}`);
  writeFileSync(file, instr, { mode: 0o600 });
  const r = spawnSync('busybox', ['sh', SCRIPT, file], { env: { PATH: `${bin ? bin + ':' : ''}${process.env.PATH}`, ...env }, encoding: 'utf8', timeout: 30_000 });
  const lines = r.stdout.trim().split('\n');
  return { status: r.status, stderr: r.stderr, result: JSON.parse(lines[lines.length - 1]) };
}

const STORCLI = `case "$1" in
  show) echo "Controller Count = \${CTRLS:-1}" ;;
  /c0/vall) if [ -n "$HAS_VD" ]; then echo "0/0   RAID1 Optl  RW     Yes     RWBD  -   ON  1.090 TB"; [ "$3" = all ] && echo "252:0     4 Onln   0 1.090 TB SAS  HDD"; fi ;;
  /c0) [ -n "$ADD_FAILS" ] && { echo "Status = Failure"; exit 1; }; echo "Status = Success" ;;
esac`;

describe.skipIf(!have('busybox'))('hardware-install RAID and BIOS backends (fake vendor CLIs)', () => {
  it('block devices -> software RAID (mdadm) even when a controller CLI is present; raid5 over three', () => {
    const f = fakes({ storcli64: STORCLI });
    const r = run('RAID_LEVEL=raid5\nRAID_DISKS=/dev/vda /dev/vdb /dev/vdc\n', { DRY_RUN: '1' }, f.bin);
    expect(r.result, r.stderr).toMatchObject({ raid: 'ok', error: '' });
    expect(r.stderr).toContain('raid: backend software');
    expect(r.stderr).toContain('+ mdadm --create /dev/md/crowbar --run --level=5 --raid-devices=3 --metadata=1.2 --name=crowbar /dev/vda /dev/vdb /dev/vdc');
    expect(f.calls().filter((c) => /add vd/.test(c))).toEqual([]);
  });

  it('drive ids -> storcli when it reports a controller: /c0 add vd type=raid1 drives=E:S,E:S', () => {
    const f = fakes({ storcli64: STORCLI });
    const r = run('RAID_LEVEL=raid1\nRAID_DISKS=252:0 252:1\n', {}, f.bin);
    expect(r.status, r.stderr).toBe(0);
    expect(r.result).toMatchObject({ raid: 'ok', error: '' });
    expect(r.stderr).toContain('raid: backend storcli');
    expect(f.calls()).toContain('storcli64 /c0 add vd type=raid1 drives=252:0,252:1');
  });

  it('an existing volume is not created twice; a failing CLI fails the step', () => {
    const f = fakes({ storcli64: STORCLI });
    const r = run('RAID_LEVEL=raid1\nRAID_DISKS=252:0 252:1\n', { HAS_VD: '1' }, f.bin);
    expect(r.result, r.stderr).toMatchObject({ raid: 'exists' });
    expect(f.calls().some((c) => /add vd/.test(c))).toBe(false);
    const bad = run('RAID_LEVEL=raid1\nRAID_DISKS=252:0 252:1\n', { ADD_FAILS: '1' }, f.bin);
    expect(bad.status).not.toBe(0);
    expect(bad.result).toMatchObject({ raid: 'failed', error: 'storcli64 add vd failed' });
  });

  it('no controller reported (count 0, no CLI) -> drive ids are refused with the reason', () => {
    const f = fakes({ storcli64: STORCLI });
    const r = run('RAID_LEVEL=raid1\nRAID_DISKS=252:0 252:1\n', { CTRLS: '0' }, f.bin);
    expect(r.result).toMatchObject({ raid: 'failed' });
    expect(r.result.error).toMatch(/no controller CLI/);
  });

  it('perccli (explicit controller) and ssacli (auto) with their own drive syntax', () => {
    const p = fakes({ perccli64: STORCLI });
    const r1 = run('RAID_LEVEL=raid10\nRAID_DISKS=32:0 32:1 32:2 32:3\nRAID_CONTROLLER=perccli\n', {}, p.bin);
    expect(r1.result, r1.stderr).toMatchObject({ raid: 'ok' });
    expect(p.calls()).toContain('perccli64 /c0 add vd type=raid10 drives=32:0,32:1,32:2,32:3');
    const s = fakes({
      ssacli: `case "$*" in
  "ctrl all show") echo; echo "Smart Array P440ar in Slot 3 (Embedded)       (sn: PDNLH0BRH8R1AB)" ;;
  *"ld all show"*) echo "Error: The specified device does not have any logical drives." ;;
  *create*) echo ok ;;
esac`,
    });
    const r2 = run('RAID_LEVEL=raid1\nRAID_DISKS=1I:1:1 1I:1:2\n', {}, s.bin);
    expect(r2.result, r2.stderr).toMatchObject({ raid: 'ok' });
    expect(s.calls()).toContain('ssacli ctrl slot=3 create type=ld drives=1I:1:1,1I:1:2 raid=1');
    const r3 = run('RAID_LEVEL=raid1\nRAID_DISKS=252:0 252:1\n', {}, s.bin);
    expect(r3.result).toMatchObject({ raid: 'failed' }); // storcli-style ids are not ssacli drives
  });

  it('UEFI boot order through efibootmgr: listed classes first, read back; Legacy-only keys reported', () => {
    const efi = join(tmp, 'efi');
    mkdirSync(join(efi, 'efivars'), { recursive: true });
    writeFileSync(join(efi, 'efivars', 'x'), '');
    const state = join(tmp, 'bootorder');
    writeFileSync(state, '0001,0002,0000,0003');
    const f = fakes({
      efibootmgr: `if [ "$1" = -o ]; then echo "$2" > '${state}'; fi
echo "BootCurrent: 0002"
echo "BootOrder: $(cat '${state}')"
echo "Boot0000* UiApp"
echo "Boot0001* UEFI QEMU HARDDISK QM00001"
echo "Boot0002* UEFI PXEv4 (MAC:525400CB4293)"
echo "Boot0003* EFI Internal Shell"`,
      syscfg: 'exit 0',
    });
    const r = run('BIOS_SETTINGS=BootMode=Uefi UefiBootOrder=network,disk Virtualization=Enabled\n', { EFI_DIR: efi }, f.bin);
    expect(r.status, r.stderr).toBe(0);
    expect(r.result).toMatchObject({ bios: 'partial', error: '' });
    expect(readFileSync(state, 'utf8').trim()).toBe('0002,0001,0000,0003');
    expect(r.stderr).toContain('bios: BootOrder after: 0002,0001,0000,0003');
    expect(r.stderr).toMatch(/Virtualization=Enabled unsupported here/);
    // with a vendor tool the other keys go to it; on a Legacy machine UEFI keys are unsupported
    const t = run('BIOS_SETTINGS=Virtualization=Enabled BootMode=Uefi UefiBootOrder=disk\nBIOS_TOOL=syscfg\n', { EFI_DIR: join(tmp, 'no-efi') }, f.bin);
    expect(t.result, t.stderr).toMatchObject({ bios: 'partial' });
    expect(f.calls()).toEqual(expect.arrayContaining(['syscfg set Virtualization Enabled', 'syscfg set BootMode Uefi']));
    expect(t.stderr).toMatch(/UefiBootOrder unsupported: the machine boots in Legacy mode/);
    // an unknown class is an error
    const u = run('BIOS_SETTINGS=UefiBootOrder=floppy\n', { EFI_DIR: efi }, f.bin);
    expect(u.result).toMatchObject({ bios: 'failed' });
  });
});
