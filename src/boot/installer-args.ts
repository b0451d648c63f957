/**
 * Kernel command lines of the OS installers we boot (pure). The only
 * per-node value besides host names is the config URL with the node's
 * short-lived install token; no password or long-lived credential is ever on
 * a command line.
 *
 *   Anaconda (RHEL family)   inst.ks=<config> inst.stage2=<tree> ip=dhcp
 *   debian-installer         auto=true priority=critical url=<config> hostname= domain= interface=auto netcfg/no_default_route=true netcfg/get_nameservers=<appliance>
 *   subiquity (Ubuntu 20.04+) ip=dhcp url=<tree>/<iso> autoinstall ds=nocloud-net;s=<install base>/ cloud-config-url=/dev/null
 */
import { CrowbarError } from '../lib/errors.js';
import type { OsMedia } from '../model/os.js';
import { purposeFor } from './install-templates.js';

/** What the installer boot needs to know. */
export interface InstallerBootInput {
  media: OsMedia;
  /** `<appliance>/os/<name>/` (trailing slash). */
  treeUrl: string;
  /** `<appliance>/install/<token>` (no trailing slash). */
  installBase: string;
  hostname: string;
  domain: string;
  /** Name servers for d-i's netcfg (the appliance). */
  nameservers: string[];
}

/** Kernel, initrd and arguments of an installer boot. */
export interface InstallerBoot {
  kernel_url: string;
  initrd_url: string;
  kernel_args: string;
}

/** The installer boot of an installer medium. */
export function installerBoot(i: InstallerBootInput): InstallerBoot {
  const m = i.media;
  if (m.method !== 'installer' || !m.kernel || !m.initrd) throw new CrowbarError('os.missing', `OS ${m.name} is not an installer medium with a kernel and initrd`);
  const kernel_url = i.treeUrl + m.kernel;
  const initrd_url = i.treeUrl + m.initrd;
  const purpose = purposeFor(m.family, m.version);
  let args: string;
  if (purpose === 'kickstart') args = `inst.ks=${i.installBase}/config inst.stage2=${i.treeUrl} ip=dhcp`;
  // netcfg runs before the preseed is fetched: on a router-less admin network the real d-i stops at
  // "Continue without a default route?" and then asks for name servers (seen in the lab), so both are answered here.
  else if (purpose === 'preseed') {
    const ns = i.nameservers.filter((a) => /^[0-9.]+$/.test(a)).join(',');
    args = `auto=true priority=critical url=${i.installBase}/config hostname=${i.hostname} domain=${i.domain} interface=auto netcfg/no_default_route=true${ns ? ` netcfg/get_nameservers=${ns}` : ''}`;
  }
  else {
    const iso = m.meta.iso;
    if (typeof iso !== 'string' || !/^[A-Za-z0-9._/-]+\.iso$/.test(iso) || iso.includes('..')) throw new CrowbarError('os.missing', `OS ${m.name} has no installer ISO (meta.iso) for subiquity's url=`);
    args = `ip=dhcp url=${i.treeUrl}${iso} autoinstall ds=nocloud-net;s=${i.installBase}/ cloud-config-url=/dev/null`;
  }
  return { kernel_url, initrd_url, kernel_args: args };
}
