/** The RAID part of the hardware-install plan, from raid proposals (src/services/hardware-plan.ts). */
import { describe, expect, it } from 'vitest';
import { biosPlanFor, ipmiPlanFor, raidLayoutFor, raidPlanFor } from '../../src/services/hardware-plan.js';
import { renderHardwareInstall } from '../../src/services/power/instruction.js';

const doc = (nodes: string[], raid: Record<string, unknown>) => ({ attributes: { raid }, deployment: { raid: { elements: { 'raid-configure': nodes } } } });

describe('raidPlanFor', () => {
  it('no proposal, or the node not listed: no RAID', () => {
    expect(raidPlanFor('n1', [])).toEqual({ level: 'none' });
    expect(raidPlanFor('n1', [{ name: 'a', proposal: doc(['n2'], { level: '1', disks: ['/dev/sda', '/dev/sdb'], apply: true }), applied: null }])).toEqual({ level: 'none' });
  });

  it('a saved proposal listing the node with apply: true gives raid1 over its disks', () => {
    const p = { name: 'a', proposal: doc(['n1'], { level: '1', disks: ['/dev/vda', '/dev/vdb'], apply: true }), applied: null };
    expect(raidPlanFor('n1', [p])).toEqual({ level: 'raid1', disks: ['/dev/vda', '/dev/vdb'], from: 'a' });
  });

  it('the applied document wins over the draft', () => {
    const p = { name: 'a', proposal: doc(['n1'], { level: '1', disks: ['/dev/vda', '/dev/vdb'], apply: true }), applied: doc(['n1'], { level: '1', disks: ['/dev/sda', '/dev/sdb'], apply: false }) };
    expect(raidPlanFor('n1', [p])).toEqual({ level: 'none', from: 'a' });
  });

  it('other mdadm/controller levels with enough disks; unknown levels or too few disks are errors, not silent skips', () => {
    expect(raidPlanFor('n1', [{ name: 'a', proposal: doc(['n1'], { level: '5', disks: ['/dev/a', '/dev/b', '/dev/c'], apply: true }), applied: null }])).toMatchObject({ level: 'raid5' });
    expect(raidPlanFor('n1', [{ name: 'a', proposal: doc(['n1'], { level: '10', disks: ['252:0', '252:1', '252:2', '252:3'], apply: true }), applied: null }])).toMatchObject({ level: 'raid10' });
    expect(() => raidPlanFor('n1', [{ name: 'a', proposal: doc(['n1'], { level: '7', disks: ['/dev/a', '/dev/b', '/dev/c'], apply: true }), applied: null }])).toThrow(/level 7/);
    expect(() => raidPlanFor('n1', [{ name: 'a', proposal: doc(['n1'], { level: '1', disks: ['/dev/a'], apply: true }), applied: null }])).toThrow(/two disks/);
    expect(() => raidPlanFor('n1', [{ name: 'a', proposal: doc(['n1'], { level: '6', disks: ['/dev/a', '/dev/b', '/dev/c'], apply: true }), applied: null }])).toThrow(/at least 4/);
  });
});

describe('raidLayoutFor (the OS install\'s root layout)', () => {
  it('reads the same proposal as hardware-install, draft or applied, with or without apply', () => {
    expect(raidLayoutFor('n1', [])).toBeNull();
    expect(raidLayoutFor('n1', [{ name: 'a', proposal: doc(['n2'], { level: '1', disks: ['/dev/vda', '/dev/vdb'] }), applied: null }])).toBeNull();
    expect(raidLayoutFor('n1', [{ name: 'a', proposal: doc(['n1'], { level: '1', disks: ['/dev/vda', '/dev/vdb'], apply: false }), applied: null }])).toEqual({ level: '1', disks: ['/dev/vda', '/dev/vdb'] });
    const p = { name: 'a', proposal: doc(['n1'], { level: '1', disks: ['/dev/vda', '/dev/vdb'] }), applied: doc(['n1'], { level: 5, disks: ['/dev/sda', '/dev/sdb', '/dev/sdc', 7] }) };
    expect(raidLayoutFor('n1', [p])).toEqual({ level: '5', disks: ['/dev/sda', '/dev/sdb', '/dev/sdc'] });
  });
});

describe('biosPlanFor and the instruction', () => {
  const bios = (nodes: string[], attrs: Record<string, unknown>) => ({ attributes: { bios: attrs }, deployment: { bios: { elements: { 'bios-set': nodes } } } });

  it('settings and tool of the proposal listing the node; null otherwise', () => {
    expect(biosPlanFor('n1', [{ name: 'b', proposal: bios(['n2'], { tool: '', settings: ['A=1'] }), applied: null }])).toBeNull();
    expect(biosPlanFor('n1', [{ name: 'b', proposal: bios(['n1'], { tool: '', settings: ['UefiBootOrder=network,disk'] }), applied: null }])).toEqual({ settings: ['UefiBootOrder=network,disk'], from: 'b' });
    expect(biosPlanFor('n1', [{ name: 'b', proposal: bios(['n1'], { tool: 'racadm', settings: [] }), applied: null }])).toEqual({ settings: [], tool: 'racadm', from: 'b' });
  });

  it('renders RAID and BIOS keys; refuses values that could smuggle lines or shell', () => {
    const base = { channel: 1, userId: 3, user: 'crowbar', password: 'AbCdEf123456789x' };
    const t = renderHardwareInstall({ ...base, raid: { level: 'raid10', disks: ['252:0', '252:1', '252:2', '252:3'] }, bios: { settings: ['BootMode=Uefi', 'UefiBootOrder=network,disk'], tool: 'syscfg' } });
    expect(t).toContain('RAID_LEVEL=raid10\nRAID_DISKS=252:0 252:1 252:2 252:3\n');
    expect(t).toContain('BIOS_SETTINGS=BootMode=Uefi UefiBootOrder=network,disk\nBIOS_TOOL=syscfg\n');
    expect(() => renderHardwareInstall({ ...base, bios: { settings: ['A=$(reboot)'] } })).toThrow(/KEY=value/);
    expect(() => renderHardwareInstall({ ...base, bios: { settings: ['A=1\nBMC_IP=1.2.3.4'] } })).toThrow(/KEY=value/);
    expect(() => renderHardwareInstall({ ...base, raid: { level: 'raid5', disks: ['/dev/a', '/dev/b'] } })).toThrow(/at least 3/);
    expect(() => renderHardwareInstall({ ...base, raid: { level: 'raid1', disks: ['/dev/a', '; rm -rf /'] } })).toThrow(/raid disks/);
  });
});

describe('ipmiPlanFor', () => {
  const ipmi = (nodes: string[], attrs: Record<string, unknown>) => ({ attributes: { ipmi: attrs }, deployment: { ipmi: { elements: { 'ipmi-configure': nodes } } } });

  it('channel and user slot from the proposal listing the node; enable: false leaves the BMC alone', () => {
    expect(ipmiPlanFor('n1', [])).toBeNull();
    expect(ipmiPlanFor('n1', [{ name: 'i', proposal: ipmi(['n1'], { enable: true, channel: 2, user_id: 4 }), applied: null }])).toEqual({ bmc: true, channel: 2, userId: 4, from: 'i' });
    const off = ipmiPlanFor('n1', [{ name: 'i', proposal: ipmi(['n1'], { enable: false, channel: 1, user_id: 2 }), applied: null }]);
    expect(off?.bmc).toBe(false);
    const t = renderHardwareInstall({ channel: 1, userId: 0, user: '', password: '', network: { ip: '10.0.0.5', netmask: '255.255.255.0' }, raid: { level: 'none' }, bmc: false });
    expect(t).toBe('RAID_LEVEL=none\n');
  });
});
