/**
 * Where a node's install settings come from: its admin allocation (address,
 * netmask, router of the admin network), the appliance as DNS and NTP server,
 * the raid layout (`raidLayout`: the raid proposal that has the node in `raid-configure`,
 * read as hardware-install reads it), and the
 * provisioner's timezone and access keys (applied proposal, else template).
 */
import { CrowbarError } from '../lib/errors.js';
import { maskToPrefix } from '../lib/ip.js';
import type { Node } from '../model/node.js';
import type { ProposalRepo } from '../store/barclamps.js';
import type { RaidSettings } from '../boot/install-config.js';
import type { InstallSettings, InstallSettingsSource } from './installer.js';
import type { NetworkService } from './network.js';

type Doc = { attributes?: Record<string, Record<string, unknown> | undefined>; deployment?: Record<string, { elements?: Record<string, string[]> } | undefined> };

/** Dependencies of the settings source. */
export interface InstallSettingsDeps {
  network: NetworkService;
  proposals: ProposalRepo;
  applianceAddress: string;
  /** The node's RAID layout (services/hardware-plan.ts `raidLayoutFor`), or null. */
  raidLayout: (node: Node) => RaidSettings | null;
  /** The provisioner template's attributes (when no proposal is applied). */
  provisionerTemplate: () => Record<string, unknown> | null;
}

function applied(repo: ProposalRepo, barclamp: string): Doc[] {
  return repo
    .list(barclamp)
    .filter((r) => r.applied_doc !== null)
    .sort((a, b) => (a.name === 'default' ? -1 : b.name === 'default' ? 1 : a.name.localeCompare(b.name)))
    .map((r) => JSON.parse(r.applied_doc!) as Doc);
}

/** Build the settings source. */
export function installSettingsSource(d: InstallSettingsDeps): InstallSettingsSource {
  return (node: Node): InstallSettings => {
    const def = d.network.network('admin');
    const a = d.network.allocate('admin', node.id);
    const prefix = maskToPrefix(def.netmask);
    if (prefix === null) throw new CrowbarError('config.invalid', `admin network netmask ${def.netmask} is not a valid mask`);
    const raid = d.raidLayout(node);
    const prov = applied(d.proposals, 'provisioner')[0]?.attributes?.provisioner ?? d.provisionerTemplate() ?? {};
    const tz = typeof prov.timezone === 'string' && prov.timezone !== '' ? prov.timezone : 'UTC';
    const keys = typeof prov.access_keys === 'string' ? prov.access_keys.split('\n').map((k) => k.trim()).filter((k) => k !== '' && !k.startsWith('#')) : [];
    return {
      admin: { address: a.address, netmask: def.netmask, prefix, gateway: def.router ?? null },
      dnsServers: [d.applianceAddress],
      ntpServers: [d.applianceAddress],
      raid,
      timezone: tz,
      sshKeys: keys,
      mirror: typeof prov.mirror === 'string' && prov.mirror.trim() !== '' ? prov.mirror.trim() : null,
    };
  };
}
