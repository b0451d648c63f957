/**
 * The installer path (docs/os-install.md): boots a node into its OS
 * installer with a short-lived per-node install token, serves the rendered
 * install config (kickstart, preseed, autoinstall user-data) and the
 * post-install step, hands the node its long-lived credential once, serves
 * the join agent bundle, and takes the `installed` report.
 *
 * Token rules: minted per boot-script render, valid `tokenTtlMs` (default 3 h),
 * for one node; the config may be fetched while the node is
 * hardware-installed/reinstall (the fetch moves it to `installing`) or
 * installing; everything else only while installing. Each token allows one
 * credential fetch, from the node's own admin address; `installed` revokes
 * all of the node's install tokens.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { checkAutoinstall } from '../boot/autoinstall-check.js';
import { diskPlan, renderInstallConfig, type AdminNet, type InstallFacts, type RaidSettings } from '../boot/install-config.js';
import { InstallTemplateStore, purposeFor, type InstallPurpose } from '../boot/install-templates.js';
import { installerBoot } from '../boot/installer-args.js';
import { checkKickstart } from '../boot/kickstart-check.js';
import { checkPreseed } from '../boot/preseed-check.js';
import type { Clock } from '../lib/clock.js';
import { CrowbarError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { writeTar, type TarInput } from '../lib/tar.js';
import type { Node, NodeState } from '../model/node.js';
import type { InstallTokenRepo, InstallTokenInfo } from '../store/install-tokens.js';
import type { NodeRepo } from '../store/nodes.js';
import type { OsInstall } from './boot-scripts.js';
import type { NodeService } from './nodes.js';
import type { OsSelection } from './os-selection.js';

/** Per-node settings from the allocation and the applied proposals. */
export interface InstallSettings {
  admin: AdminNet;
  dnsServers: string[];
  ntpServers: string[];
  raid: RaidSettings | null;
  timezone: string;
  sshKeys: string[];
  /** The provisioner's package mirror, or null (the medium's tree on the appliance). */
  mirror: string | null;
}

/** Looks up a node's install settings (wired in main.ts from the network service and proposals). */
export type InstallSettingsSource = (node: Node) => InstallSettings;

/** Issues a node's long-lived credential (the agent token; replaces any earlier one). */
export type CredentialIssuer = (nodeId: number, now: number) => string;

/** Default lifetime of an install token: long enough for a slow install, short enough to be useless later. */
export const INSTALL_TOKEN_TTL_MS = 3 * 3600_000;

/** Dependencies of the installer service. */
export interface InstallerDeps {
  nodeRepo: NodeRepo;
  nodes: NodeService;
  osSelection: OsSelection;
  templates: InstallTemplateStore;
  tokens: InstallTokenRepo;
  settings: InstallSettingsSource;
  issueCredential: CredentialIssuer;
  clock: Clock;
  log: Logger;
}

/** Settings of the installer service. */
export interface InstallerOptions {
  publicUrl: string;
  domain: string;
  /** The join agent directory (images/join/), served as join.tar.gz. */
  joinDir: string;
  tokenTtlMs?: number;
}

/** A served document. */
export interface Served {
  body: string | Buffer;
  type: string;
}

const CONFIG_STATES: ReadonlySet<NodeState> = new Set<NodeState>(['hardware-installed', 'reinstall', 'installing']);

/** Check a rendered config with the checker of its format. */
export function checkRendered(purpose: InstallPurpose, text: string): string[] {
  if (purpose === 'kickstart') return checkKickstart(text);
  if (purpose === 'preseed') return checkPreseed(text);
  if (purpose === 'autoinstall') return checkAutoinstall(text);
  return text.startsWith('#!/bin/sh\n') ? [] : ['post-install script must start with #!/bin/sh'];
}

/** The installer path's service. */
export class InstallerService {
  private readonly ttl: number;
  private readonly base: string;

  constructor(
    private readonly d: InstallerDeps,
    private readonly o: InstallerOptions,
  ) {
    this.ttl = o.tokenTtlMs ?? INSTALL_TOKEN_TTL_MS;
    this.base = o.publicUrl.replace(/\/+$/, '');
  }

  private shortName(node: Node): string {
    return node.name.endsWith('.' + this.o.domain) ? node.name.slice(0, -(this.o.domain.length + 1)) : node.name.split('.')[0];
  }

  /**
   * The installer boot of a node whose OS is an installer medium (mints a
   * token). Throws `os.*` when no installer medium applies.
   */
  bootFor(node: Node): OsInstall {
    const media = this.d.osSelection.mediaFor(node);
    const token = this.d.tokens.issue(node.id, this.d.clock.now(), this.ttl);
    const boot = installerBoot({ media, treeUrl: `${this.base}/os/${media.name}/`, installBase: `${this.base}/install/${token}`, hostname: this.shortName(node), domain: this.o.domain, nameservers: this.d.settings(node).dnsServers });
    this.d.log.info('installer boot', { node: node.name, os: media.name });
    return { name: media.name, ...boot };
  }

  /** The node and token facts of a presented token; 401 when unknown or expired. */
  private resolve(token: string): { node: Node; info: InstallTokenInfo } {
    if (!/^cbi_[A-Za-z0-9_-]{16,64}$/.test(token)) throw new CrowbarError('unauthorized', 'not an install token');
    const info = this.d.tokens.verify(token, this.d.clock.now());
    if (!info) throw new CrowbarError('unauthorized', 'install token unknown or expired (power-cycle the node to get a new one)');
    const node = this.d.nodeRepo.get(info.nodeId);
    if (!node) throw new CrowbarError('unauthorized', 'install token of a deleted node');
    return { node, info };
  }

  private requireInstalling(node: Node, what: string): void {
    if (node.state !== 'installing') throw new CrowbarError('conflict', `${what} is only served while ${node.name} is installing (state ${node.state})`);
  }

  private facts(node: Node, token: string): InstallFacts {
    const media = this.d.osSelection.mediaFor(node);
    const s = this.d.settings(node);
    return {
      node,
      media,
      domain: this.o.domain,
      admin: s.admin,
      applianceUrl: this.base,
      applianceAddress: new URL(this.base).hostname,
      dnsServers: s.dnsServers,
      ntpServers: s.ntpServers,
      disks: diskPlan(node.inventory.disks, s.raid),
      timezone: s.timezone,
      sshKeys: s.sshKeys,
      mirror: s.mirror,
      installBase: `${this.base}/install/${token}`,
    };
  }

  private render(node: Node, token: string, purpose: InstallPurpose): string {
    const f = this.facts(node, token);
    const t = this.d.templates.load(purpose, f.media);
    const text = renderInstallConfig(t.text, t.name, f, purpose);
    const problems = checkRendered(purpose, text);
    if (problems.length) throw new CrowbarError('internal', `${t.name} rendered for ${node.name} fails its ${purpose} check: ${problems.slice(0, 5).join('; ')}`);
    return text;
  }

  /**
   * The node's install config (its OS's format). The first fetch moves a
   * hardware-installed or reinstall node to `installing`.
   */
  async config(token: string): Promise<Served> {
    let { node } = this.resolve(token);
    if (!CONFIG_STATES.has(node.state)) throw new CrowbarError('conflict', `the install config is not served while ${node.name} is ${node.state}`);
    const media = this.d.osSelection.mediaFor(node);
    const purpose = purposeFor(media.family, media.version);
    const text = this.render(node, token, purpose);
    if (node.state !== 'installing') node = (await this.d.nodes.transition(node.name, 'installing', `installer fetched its ${purpose} config`)).node;
    return { body: text, type: purpose === 'autoinstall' ? 'text/cloud-config; charset=utf-8' : 'text/plain; charset=utf-8' };
  }

  /** NoCloud meta-data for subiquity (instance id changes per token, so cloud-init runs again on reinstall). */
  metaData(token: string): Served {
    const { node, info } = this.resolve(token);
    return { body: `instance-id: crowbar-${node.id}-${info.hash.slice(0, 12)}\nlocal-hostname: ${this.shortName(node)}\n`, type: 'text/plain; charset=utf-8' };
  }

  /** The post-install script (installing only). */
  postInstall(token: string): Served {
    const { node } = this.resolve(token);
    this.requireInstalling(node, 'the post-install step');
    return { body: this.render(node, token, 'post-install'), type: 'text/x-shellscript; charset=utf-8' };
  }

  /**
   * The node's long-lived credential, once per install token, only to the
   * node's own admin address while it is installing. Never logged.
   */
  joinToken(token: string, remoteAddress: string): Served {
    const { node, info } = this.resolve(token);
    this.requireInstalling(node, 'the node credential');
    const admin = this.d.settings(node).admin.address;
    if (remoteAddress.replace(/^::ffff:/, '') !== admin) throw new CrowbarError('forbidden', `the node credential of ${node.name} is only handed to its admin address ${admin}`);
    if (!this.d.tokens.claimJoin(info.hash, this.d.clock.now())) throw new CrowbarError('conflict', `the node credential was already fetched with this install token (reinstall ${node.name} to get a new one)`);
    const cred = this.d.issueCredential(node.id, this.d.clock.now());
    this.d.log.info('node credential handed to the installed system', { node: node.name });
    return { body: cred + '\n', type: 'text/plain; charset=utf-8' };
  }

  /** The join agent bundle: a tar.gz of the join directory (installing only). */
  joinBundle(token: string): Served {
    const { node } = this.resolve(token);
    this.requireInstalling(node, 'the join agent');
    return { body: joinArchive(this.o.joinDir), type: 'application/gzip' };
  }

  /** The post-install report: the node moves to `installed` (boots from disk next) and its install tokens die. */
  async installed(token: string): Promise<{ node: string; state: string }> {
    const { node } = this.resolve(token);
    this.requireInstalling(node, 'the installed report');
    const r = await this.d.nodes.transition(node.name, 'installed', 'post-install step reported installed');
    this.d.tokens.revokeNode(node.id);
    return { node: r.node.name, state: r.node.state };
  }
}

/** A gzip'd tar of the regular files (and directories) under `dir`, sorted, mode kept, mtime 0 (reproducible). */
export function joinArchive(dir: string): Buffer {
  const entries: TarInput[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = statSync(join(dir, r));
      if (st.isDirectory()) {
        entries.push({ path: r + '/', type: 'directory', mode: 0o755, mtime: 0 });
        walk(r);
      } else if (st.isFile()) entries.push({ path: r, type: 'file', mode: st.mode & 0o111 ? 0o755 : 0o644, mtime: 0, data: readFileSync(join(dir, r)) });
    }
  };
  try {
    walk('');
  } catch (e) {
    throw new CrowbarError('internal', `join agent directory ${dir} cannot be read: ${(e as Error).message}`);
  }
  return gzipSync(writeTar(entries));
}
