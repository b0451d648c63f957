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
  // Default split of the admin subnet (Crowbar's ranges): lower half after
  // the first 9 addresses -> "host" (allocated to nodes), upper half -> the
  // DHCP pool for machines not yet known.
  const size = admin.broadcast - admin.network;
  if (size < 16) throw new CrowbarError('config.invalid', 'config: admin_network.address: subnet too small (need at least a /28)', { key: 'admin_network.address' });
  const half = admin.network + Math.ceil(size / 2);
  const net = cfg.admin_network;
  if (dhcp.range_start === '') dhcp.range_start = intToIp(half);
  if (dhcp.range_end === '') dhcp.range_end = intToIp(admin.broadcast - 1);
  if (net.host_range_start === '') net.host_range_start = intToIp(admin.network + 10);
  if (net.host_range_end === '') net.host_range_end = intToIp(half - 1);
  const ranges = [
    ['services.dhcp', dhcp, 'range_start', 'range_end'],
    ['admin_network', net, 'host_range_start', 'host_range_end'],
  ] as const;
  for (const [path, obj, a, b] of ranges) {
    const o = obj as unknown as Record<string, string>;
    for (const k of [a, b]) {
      if (!cidrContains(admin, ipToInt(o[k])))
        throw new CrowbarError('config.invalid', `config: ${path}.${k}: ${o[k]} is outside ${cfg.admin_network.address}`, { key: `${path}.${k}` });
    }
    if (ipToInt(o[a]) > ipToInt(o[b])) throw new CrowbarError('config.invalid', `config: ${path}.${a}: must not be after ${b}`, { key: `${path}.${a}` });
  }
  const overlap = ipToInt(dhcp.range_start) <= ipToInt(net.host_range_end) && ipToInt(net.host_range_start) <= ipToInt(dhcp.range_end);
  if (overlap) throw new CrowbarError('config.invalid', 'config: services.dhcp.range_start: the DHCP pool overlaps admin_network host range', { key: 'services.dhcp.range_start' });
  dhcp.relays.forEach((r, i) => {
    const c = parseCidr(r.subnet);
    for (const k of ['range_start', 'range_end'] as const)
      if (!cidrContains(c, ipToInt(r[k])))
        throw new CrowbarError('config.invalid', `config: services.dhcp.relays[${i}].${k}: ${r[k]} is outside ${r.subnet}`, { key: `services.dhcp.relays[${i}].${k}` });
  });
  cfg.data_dir = resolve(cfg.data_dir);
  if (cfg.services.tftp.root === '') cfg.services.tftp.root = resolve(cfg.data_dir, 'tftp');
  else cfg.services.tftp.root = resolve(cfg.services.tftp.root);
  const disc = cfg.discovery;
  disc.image_dir = resolve(cfg.data_dir, disc.image_dir === '' ? 'images/discovery' : disc.image_dir);
  if (disc.image_cache !== '') disc.image_cache = resolve(disc.image_cache);
  if (disc.root_image_cache !== '') disc.root_image_cache = resolve(disc.root_image_cache);
  if (disc.templates_dir !== '') disc.templates_dir = resolve(disc.templates_dir);
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
