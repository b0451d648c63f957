/**
 * Choosing the TFTP transfer datagram path (services.tftp.datagram): auto
 * falls back to node:dgram when the addon does not load, native refuses to
 * start without it, dgram never loads it; one info line says which.
 */
import { describe, expect, it } from 'vitest';
import { memoryLogger } from '../../src/lib/logger.js';
import { chooseDatagramPath } from '../../src/protocols/tftp/datagram.js';
import { loadDatagramAddon } from '../../src/protocols/tftp/native-socket.js';
import { requireAddon } from '../helpers/tftp-datagram.js';

const missing = () => loadDatagramAddon('/nonexistent/tftp_udp.node');

describe('chooseDatagramPath', () => {
  it('auto: native when the addon loads, with its path in the log', () => {
    const log = memoryLogger();
    const addon = requireAddon();
    const p = chooseDatagramPath('auto', () => ({ addon }), log);
    expect(p.kind).toBe('native');
    expect(p.addonPath).toBe(addon.path);
    expect(log.records).toEqual([expect.objectContaining({ level: 'info', msg: 'tftp: transfers use the native datagram path' })]);
  });

  it('auto: node:dgram when the addon does not load, saying why', () => {
    const log = memoryLogger();
    const r = missing();
    expect('error' in r).toBe(true);
    expect(chooseDatagramPath('auto', () => r, log).kind).toBe('dgram');
    expect(log.records).toHaveLength(1);
    expect(log.records[0].msg).toMatch(/node:dgram \(native addon not available/);
    expect(String(log.records[0].fields?.reason)).toMatch(/nonexistent/);
  });

  it('native without the addon refuses to start; dgram never loads it', () => {
    expect(() => chooseDatagramPath('native', missing, memoryLogger())).toThrow(/datagram is "native"/);
    let loaded = false;
    const p = chooseDatagramPath(
      'dgram',
      () => {
        loaded = true;
        return missing();
      },
      memoryLogger(),
    );
    expect(p.kind).toBe('dgram');
    expect(loaded).toBe(false);
  });
});
