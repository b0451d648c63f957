/**
 * Loading the configuration: YAML or JSON text -> validated, frozen Config.
 * Cross-field rules (pool inside the subnet, etc.) are checked here too.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CrowbarError, errorMessage } from '../lib/errors.js';
import { cidrContains, intToIp, ipToInt, parseCidr } from '../lib/ip.js';
import { deepFreeze, validateField } from './validate.js';
import { configSpec, type Config } from './schema.js';

/** Parse YAML or JSON text (JSON is valid YAML). */
export function parseConfigText(text: string, source = 'config'): unknown {
  try {
    return parseYaml(text) ?? {};
  } catch (e) {
    throw new CrowbarError('config.invalid', `${source}: cannot parse: ${errorMessage(e)}`);
  }
}

/** Validate a raw object into a frozen Config. */
export function buildConfig(raw: unknown): Readonly<Config> {
  const cfg = validateField(configSpec, raw, '') as Config;
  const admin = parseCidr(cfg.admin_network.address);
  const dhcp = cfg.services.dhcp;
  // Default pool: upper half of the admin subnet, minus the broadcast address.
  if (dhcp.range_start === '' || dhcp.range_end === '') {
    const size = admin.broadcast - admin.network;
    if (size < 4) throw new CrowbarError('config.invalid', 'config: admin_network.address: subnet too small for a DHCP pool', { key: 'admin_network.address' });
    if (dhcp.range_start === '') dhcp.range_start = intToIp(admin.network + Math.floor(size / 2));
    if (dhcp.range_end === '') dhcp.range_end = intToIp(admin.broadcast - 1);
  }
  for (const k of ['range_start', 'range_end'] as const) {
    if (!cidrContains(admin, ipToInt(dhcp[k])))
      throw new CrowbarError('config.invalid', `config: services.dhcp.${k}: ${dhcp[k]} is outside ${cfg.admin_network.address}`, { key: `services.dhcp.${k}` });
  }
  if (ipToInt(dhcp.range_start) > ipToInt(dhcp.range_end))
    throw new CrowbarError('config.invalid', 'config: services.dhcp.range_start: must not be after range_end', { key: 'services.dhcp.range_start' });
  dhcp.relays.forEach((r, i) => {
    const c = parseCidr(r.subnet);
    for (const k of ['range_start', 'range_end'] as const)
      if (!cidrContains(c, ipToInt(r[k])))
        throw new CrowbarError('config.invalid', `config: services.dhcp.relays[${i}].${k}: ${r[k]} is outside ${r.subnet}`, { key: `services.dhcp.relays[${i}].${k}` });
  });
  cfg.data_dir = resolve(cfg.data_dir);
  if (cfg.services.tftp.root === '') cfg.services.tftp.root = resolve(cfg.data_dir, 'tftp');
  else cfg.services.tftp.root = resolve(cfg.services.tftp.root);
  if (cfg.services.http.public_url === '') {
    const p = cfg.services.http.port;
    cfg.services.http.public_url = `http://${admin.address}${p === 80 ? '' : ':' + p}`;
  }
  cfg.services.http.public_url = cfg.services.http.public_url.replace(/\/+$/, '');
  return deepFreeze(cfg);
}

/** Read and validate a config file (YAML or JSON). */
export function loadConfigFile(path: string): Readonly<Config> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CrowbarError('config.invalid', `cannot read config ${path}: ${errorMessage(e)}`);
  }
  return buildConfig(parseConfigText(text, path));
}
