/**
 * Per-node iPXE scripts (GET /boot/node/{mac}.ipxe): the node's state picks
 * its boot group (src/state/lifecycle.ts), the group picks the template in
 * pxe/. An unknown MAC boots the discovery image. Scripts carry no secret.
 */
import { CrowbarError } from '../lib/errors.js';
import { normalizeMac } from '../lib/mac.js';
import type { Node } from '../model/node.js';
import { TemplateStore } from '../boot/ipxe.js';
import { bootGroup } from '../state/lifecycle.js';
import type { NodeRepo } from '../store/nodes.js';

/** How a node installs its operating system (provided by the provisioner). */
export interface OsInstall {
  name: string;
  kernel_url: string;
  initrd_url: string;
  kernel_args: string;
}

/** Looks up the OS install of a node; null when none is configured. */
export type OsInstallSource = (node: Node) => OsInstall | null;

/** Settings of the boot script service. */
export interface BootScriptOptions {
  /** URL nodes reach the appliance at (no trailing slash). */
  publicUrl: string;
  /** Extra kernel arguments for the discovery image. */
  kernelArgs: string;
}

/** Renders the per-node boot scripts. */
export class BootScriptService {
  private osInstall: OsInstallSource = () => null;
  private imageInstall: (node: Node) => boolean = () => false;

  constructor(
    private readonly repo: NodeRepo,
    private readonly templates: TemplateStore,
    private readonly o: BootScriptOptions,
  ) {
    if (!/^https?:\/\/[\x21-\x7e]+$/.test(o.publicUrl)) throw new CrowbarError('config.invalid', `public URL ${JSON.stringify(o.publicUrl)} cannot be put in an iPXE script`);
  }

  /** Plug in the OS install source (the provisioner does this in main.ts). */
  setOsInstallSource(fn: OsInstallSource): void {
    this.osInstall = fn;
  }

  /**
   * Plug in the image-install test (main.ts): a node in boot group os-install
   * whose OS is a root image boots the discovery image again (template
   * `image-install`); its agent writes the image (docs/image-install.md).
   */
  setImageInstall(fn: (node: Node) => boolean): void {
    this.imageInstall = fn;
  }

  /** The iPXE script for the machine with boot MAC `macRaw` (any separator). */
  scriptFor(macRaw: string): { script: string; group: string; node: string | null } {
    const mac = normalizeMac(macRaw);
    const node = this.repo.getByMac(mac) ?? null;
    const group = node ? bootGroup(node.state) : 'discovery';
    const base = this.o.publicUrl;
    const hyphen = mac.replace(/:/g, '-');
    const ctx: Record<string, string> = {
      mac,
      mac_hyphen: hyphen,
      node: node?.name ?? 'unknown machine',
      state: node?.state ?? 'unknown',
      group,
      public_url: base,
      script_url: `${base}/boot/node/${hyphen}.ipxe`,
      kernel_url: `${base}/boot/files/discovery/vmlinuz`,
      initrd_url: `${base}/boot/files/discovery/initrd.img`,
      kernel_args: this.o.kernelArgs,
    };
    if (group === 'os-install' && node && this.imageInstall(node)) {
      return { script: this.templates.render('image-install', ctx), group, node: node.name };
    }
    if (group === 'os-install') {
      const os = node && this.osInstall(node);
      if (!os) {
        ctx.message = `no operating system install is configured for ${ctx.node} (state ${ctx.state})`;
        return { script: this.templates.render('wait', ctx), group, node: node?.name ?? null };
      }
      Object.assign(ctx, { os_name: os.name, os_kernel_url: os.kernel_url, os_initrd_url: os.initrd_url, os_kernel_args: os.kernel_args });
    }
    return { script: this.templates.render(group, ctx), group, node: node?.name ?? null };
  }
}
