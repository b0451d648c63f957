/**
 * hardware-install.sh on a (virtual) machine: a qemu VM with two virtio disks
 * and an in-band IPMI KCS interface wired to ipmi_sim (ipmi-bmc-extern), the
 * discovery image's kernel, modules, ipmitool and mdadm, plus an overlay with
 * our script and a test /init. The script sets the BMC's LAN address and a
 * new administrator through /dev/ipmi0 and builds a RAID1; afterwards the
 * appliance's RMCP+ client logs in over the LAN with the new credentials.
 *
 * Needs the discovery image (images/build-discovery.sh from the discovery
 * area; default cache /var/cache/crowbar/discovery/image, or
 * CROWBAR_DISCOVERY_IMAGE=<dir with vmlinuz and initrd.img>).
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canUseNetns, createNetnsPair, have, type NetnsPair } from '../helpers/netns.js';
import { startIpmiSim, type IpmiSim } from '../helpers/ipmisim.js';
import { startWorker, type NsWorker } from '../helpers/worker.js';
import { ROOT } from '../helpers/appliance.js';
import { renderHardwareInstall } from '../../src/services/power/instruction.js';

function findImage(): string | null {
  const dirs = [process.env.CROWBAR_DISCOVERY_IMAGE, '/var/cache/crowbar/discovery/image'].filter(Boolean) as string[];
  for (const d of dirs) if (existsSync(join(d, 'vmlinuz')) && existsSync(join(d, 'initrd.img'))) return d;
  const build = join(ROOT, 'images/build-discovery.sh');
  if (existsSync(build) && process.getuid?.() === 0) {
    try {
      const out = execFileSync('bash', [build], { encoding: 'utf8', timeout: 600_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n').pop()!;
      if (existsSync(join(out, 'initrd.img'))) return out;
    } catch {
      return null;
    }
  }
  return null;
}

const ready = canUseNetns() && have('qemu-system-x86_64') && have('ipmi_sim') && have('cpio');
const image = ready ? findImage() : null;

const INIT = `#!/bin/sh
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev 2>/dev/null
for m in $(cat /lib/modules/*/load.order 2>/dev/null); do insmod /lib/modules/*/"$m.ko" 2>/dev/null; done
mdev -s
i=0; while [ ! -e /dev/ipmi0 ] && [ $i -lt 40 ]; do sleep 0.25; mdev -s; i=$((i + 1)); done
echo "=== HWI START ipmi0=$(ls /dev/ipmi0 2>/dev/null)" > /dev/console
sh /agent/hardware-install.sh /hwi.instr > /tmp/out 2> /tmp/err; rc=$?
echo "=== HWI RESULT rc=$rc $(tail -1 /tmp/out)" > /dev/console
cat /tmp/err > /dev/console
echo "=== HWI MDSTAT" > /dev/console; cat /proc/mdstat > /dev/console
echo "=== HWI END" > /dev/console
poweroff -f
`;

describe.skipIf(!ready || !image)('hardware-install.sh in a VM with an in-band BMC', () => {
  let pair: NetnsPair;
  let sim: IpmiSim;
  let w: NsWorker;
  const dir = mkdtempSync(join(tmpdir(), 'crowbar-hwvm-'));
  const vmPort = 9002;

  beforeAll(async () => {
    pair = createNetnsPair();
    sim = await startIpmiSim(pair, pair.srv, pair.srvIp, { vmPort });
    w = await startWorker(pair, pair.cli);
  });
  afterAll(() => {
    w?.stop();
    sim?.stop();
    pair?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('configures the BMC through /dev/ipmi0, builds RAID1, then the BMC answers over the LAN with the new credentials', async () => {
    const password = 'VmHwInst-Pw-16ch';
    const bmcIp = pair.srvIp.replace(/\.1$/, '.77');
    // Overlay appended to the discovery initrd: later cpio members replace earlier ones.
    const ov = join(dir, 'overlay');
    mkdirSync(join(ov, 'agent'), { recursive: true });
    writeFileSync(join(ov, 'init'), INIT);
    chmodSync(join(ov, 'init'), 0o755);
    for (const f of ['hardware-install.sh', 'raid.sh']) copyFileSync(join(ROOT, 'images/agent', f), join(ov, 'agent', f));
    writeFileSync(
      join(ov, 'hwi.instr'),
      renderHardwareInstall({ channel: 1, userId: 5, user: 'crowbar', password, network: { ip: bmcIp, netmask: '255.255.255.0', gateway: pair.srvIp }, raid: { level: 'raid1', disks: ['/dev/vda', '/dev/vdb'] } }),
      { mode: 0o600 },
    );
    execFileSync('sh', ['-c', `cd '${ov}' && find . -mindepth 1 | cpio -o -H newc -R 0:0 --quiet | gzip -n > '${dir}/overlay.cpio.gz'`]);
    const initrd = join(dir, 'initrd.img');
    execFileSync('sh', ['-c', `cat '${image}/initrd.img' '${dir}/overlay.cpio.gz' > '${initrd}'`]);
    for (const d of ['d1.raw', 'd2.raw']) execFileSync('truncate', ['-s', '64M', join(dir, d)]);
    const serial = join(dir, 'serial.log');
    const qemu = pair.spawn(pair.srv, [
      'qemu-system-x86_64', '-machine', 'q35', '-accel', 'tcg', '-m', '384', '-smp', '1', '-display', 'none', '-monitor', 'none', '-no-reboot',
      '-kernel', join(image!, 'vmlinuz'), '-initrd', initrd, '-append', 'console=ttyS0 panic=-1 loglevel=3',
      '-serial', `file:${serial}`,
      '-chardev', `socket,id=ipmi0,host=127.0.0.1,port=${vmPort},reconnect=2`,
      '-device', 'ipmi-bmc-extern,id=bmc0,chardev=ipmi0', '-device', 'isa-ipmi-kcs,bmc=bmc0,ioport=0xca2',
      '-drive', `file=${join(dir, 'd1.raw')},format=raw,if=virtio`, '-drive', `file=${join(dir, 'd2.raw')},format=raw,if=virtio`,
      '-nic', 'none',
    ]);
    let qerr = '';
    qemu.stderr?.on('data', (d) => (qerr += d));
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => {
        qemu.kill('SIGKILL');
        resolve(null);
      }, 150_000);
      qemu.on('exit', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    const log = existsSync(serial) ? readFileSync(serial, 'utf8') : '';
    expect(code, `qemu: ${qerr}\n${log.slice(-3000)}`).toBe(0);
    expect(log).toContain('=== HWI START ipmi0=/dev/ipmi0');
    const m = /=== HWI RESULT rc=(\d+) (\{.*\})/.exec(log);
    expect(m, log.slice(-3000)).not.toBeNull();
    expect(JSON.parse(m![2]), log.slice(-3000)).toEqual({ bmc: 'ok', raid: 'ok', bios: 'skipped', error: '' });
    expect(m![1]).toBe('0');
    expect(log).toMatch(/md\d+ : active (\(auto-read-only\) )?raid1 vd[ab]\[\d\] vd[ab]\[\d\]/);
    expect(log).not.toContain(password);
    // Over the LAN, with the credentials the node set in-band:
    const [st, lan] = await w.must('client', { target: { host: sim.host, user: 'crowbar', password }, steps: ['status', 'lan'] });
    expect(['on', 'off']).toContain(st);
    expect(lan).toMatchObject({ ip: bmcIp, netmask: '255.255.255.0', gateway: pair.srvIp, source: 'static' });
  }, 200_000);
});
