/** Pure parts of discovery: registration schema, identity rule, agent table, iPXE rendering. */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TEMPLATE_DIR, renderTemplate, TemplateStore } from '../../src/boot/ipxe.js';
import { isCrowbarError } from '../../src/lib/errors.js';
import { NODE_STATES } from '../../src/model/node.js';
import { isReliableId, parseRegistration, sameMachine } from '../../src/model/registration.js';
import { agentAction, AGENT_TRANSITIONS } from '../../src/state/agent.js';
import { decide } from '../../src/state/lifecycle.js';

const reg = (o: Record<string, unknown> = {}) =>
  parseRegistration({
    mac: '52-54-00-AA-BB-CC',
    inventory: { cpu_count: 1, memory_kb: 1000, nics: [{ name: 'eth0', mac: '52:54:00:aa:bb:cc' }, { name: 'eth1', mac: '52:54:00:aa:bb:cd' }], dmi: { product_serial: 'S1', product_uuid: 'U1' }, ...o },
  });

describe('parseRegistration', () => {
  it('canonicalises MACs and lists the boot MAC first, once', () => {
    const r = reg();
    expect(r.mac).toBe('52:54:00:aa:bb:cc');
    expect(r.macs).toEqual(['52:54:00:aa:bb:cc', '52:54:00:aa:bb:cd']);
  });
  it('names the bad field', () => {
    const cases: Array<[unknown, RegExp]> = [
      [null, /body\.\(root\)/],
      [[], /body\.\(root\)/],
      [{ mac: '52:54:00:aa:bb:cc', inventory: { cpu_count: 1.5, memory_kb: 1 } }, /inventory\.cpu_count/],
      [{ mac: '52:54:00:aa:bb:cc', inventory: { cpu_count: 1, memory_kb: 1, dmi: { 'Bad Key': 'x' } } }, /inventory\.dmi\.Bad Key/],
      [{ mac: '52:54:00:aa:bb:cc', inventory: { cpu_count: 1, memory_kb: 1, firmware: 'coreboot' } }, /inventory\.firmware/],
      [{ mac: '52:54:00:aa:bb:cc', inventory: { cpu_count: 1, memory_kb: 1, disks: new Array(129).fill({ name: 'a', size_bytes: 1 }) } }, /inventory\.disks/],
    ];
    for (const [body, re] of cases) {
      try {
        parseRegistration(body);
        throw new Error('accepted');
      } catch (e) {
        expect(isCrowbarError(e, 'bad_request'), String(e)).toBe(true);
        expect((e as Error).message).toMatch(re);
      }
    }
  });
});

describe('identity rule', () => {
  const stored = (r = reg()) => ({ inventory: r.inventory, macs: r.macs });
  it('same DMI UUID and serial: same machine', () => {
    expect(sameMachine(stored(), reg({ memory_kb: 999 })).same).toBe(true);
  });
  it('a different serial or UUID: another machine', () => {
    expect(sameMachine(stored(), reg({ dmi: { product_serial: 'S2', product_uuid: 'U1' } })).same).toBe(false);
    expect(sameMachine(stored(), reg({ dmi: { product_serial: 'S1', product_uuid: 'U2' } })).same).toBe(false);
    expect(sameMachine(stored(), reg({ dmi: {} })).same).toBe(false);
  });
  it('placeholder DMI values fall back to the exact MAC set', () => {
    const ph = { dmi: { product_serial: 'Default string', product_uuid: 'ffffffff-ffff-ffff-ffff-ffffffffffff' } };
    expect(isReliableId('Default string')).toBe(false);
    expect(sameMachine(stored(reg(ph)), reg(ph)).same).toBe(true);
    expect(sameMachine(stored(reg(ph)), reg({ ...ph, nics: [{ name: 'eth0', mac: '52:54:00:aa:bb:cc' }] })).same).toBe(false);
  });
  it('a node pre-created without inventory is adopted', () => {
    expect(sameMachine({ inventory: {}, macs: ['52:54:00:aa:bb:cc'] }, reg()).same).toBe(true);
  });
});

describe('agent table', () => {
  it('every state has an action and hardware actions use allowed transitions', () => {
    for (const s of NODE_STATES) {
      const a = agentAction(s, true);
      if (a.action === 'hardware-install') {
        expect(AGENT_TRANSITIONS.has(a.begin) && AGENT_TRANSITIONS.has(a.end)).toBe(true);
        expect(decide(a.begin, a.end).ok).toBe(true);
      }
    }
    expect(agentAction('discovered', false)).toEqual({ action: 'wait' });
    expect(agentAction('discovered', true).action).toBe('hardware-install');
    expect(decide('discovered', 'hardware-installing').ok).toBe(true);
    expect(agentAction('ready', false)).toEqual({ action: 'reboot' });
    expect(agentAction('delete', false)).toEqual({ action: 'poweroff' });
  });

  it('an image medium turns exactly the OS-install states into image-install (else reboot); the agent may post their transitions', () => {
    for (const s of NODE_STATES) {
      const plain = agentAction(s, true, false);
      const image = agentAction(s, true, true);
      if (['hardware-installed', 'installing', 'reinstall'].includes(s)) {
        expect(plain).toEqual({ action: 'reboot' });
        expect(image).toEqual({ action: 'image-install' });
      } else expect(image).toEqual(plain);
    }
    // hardware-installed -> installing -> installed, then the join phases, are the agent's own
    for (const [from, to] of [['hardware-installed', 'installing'], ['installing', 'installed'], ['reinstall', 'installing'], ['installed', 'readying'], ['readying', 'recovering'], ['recovering', 'ready'], ['problem', 'applying'], ['applying', 'recovering']] as const) {
      expect(AGENT_TRANSITIONS.has(to)).toBe(true);
      expect(decide(from, to).ok, `${from} -> ${to}`).toBe(true);
    }
  });
});

describe('iPXE templates', () => {
  it('renders placeholders and refuses unsafe or missing values', () => {
    expect(renderTemplate('a {{x}} ${net0/mac} {{ y }}', { x: '1', y: '2' })).toBe('a 1 ${net0/mac} 2');
    expect(() => renderTemplate('{{x}}', {})).toThrow(/no value/);
    expect(() => renderTemplate('{{x}}', { x: 'a\nshell' })).toThrow(/single line/);
  });
  it('every shipped template renders with the full context', () => {
    const store = new TemplateStore(DEFAULT_TEMPLATE_DIR);
    const ctx: Record<string, string> = {};
    for (const k of ['mac', 'mac_hyphen', 'node', 'state', 'group', 'public_url', 'script_url', 'kernel_url', 'initrd_url', 'kernel_args', 'message', 'os_name', 'os_kernel_url', 'os_initrd_url', 'os_kernel_args'])
      ctx[k] = `v-${k}`;
    const names = readdirSync(DEFAULT_TEMPLATE_DIR).filter((f) => f.endsWith('.ipxe'));
    expect(names.sort()).toEqual(['discovery.ipxe', 'hardware-install.ipxe', 'image-install.ipxe', 'local.ipxe', 'none.ipxe', 'os-install.ipxe', 'wait.ipxe']);
    for (const f of names) {
      const out = store.render(f.replace('.ipxe', '') as never, ctx);
      expect(out.startsWith('#!ipxe\n')).toBe(true);
      expect(out).not.toMatch(/\{\{/);
    }
  });
});
