/**
 * Which OS a node gets: the operator's per-node choice, else the committed
 * provisioner proposal's `default_os`, else the appliance default. Shared by
 * the boot scripts (installer vs. image), the agent (image install) and the
 * install-config renderer.
 */
import { CrowbarError } from '../lib/errors.js';
import type { Node } from '../model/node.js';
import type { OsMedia } from '../model/os.js';
import type { OsMediaRepo } from '../store/os-media.js';

/** Reads the provisioner's default OS (from the applied proposal), or null. */
export type DefaultOsSource = () => string | null;

/** Resolves the OS medium of a node. */
export class OsSelection {
  constructor(
    private readonly repo: OsMediaRepo,
    private readonly defaultOs: DefaultOsSource,
  ) {}

  /** The OS name chosen for a node (may not be imported yet), or null when nothing is configured. */
  nameFor(node: Node): string | null {
    return this.repo.choiceOf(node.id) ?? this.defaultOs();
  }

  /**
   * The medium for a node. A configured default names either a medium
   * exactly or a prefix that one image or installer medium starts with
   * (`debian-12` matches `debian-12-amd64-image`); image media are preferred
   * because they install several times faster.
   */
  mediaFor(node: Node): OsMedia {
    const want = this.nameFor(node);
    if (!want) throw new CrowbarError('os.none', `no OS chosen for ${node.name} and the provisioner has no default_os`);
    const exact = this.repo.get(want);
    if (exact) return exact;
    const matches = this.repo.list().filter((m) => m.name.startsWith(want + '-'));
    const pick = matches.find((m) => m.method === 'image') ?? matches[0];
    if (!pick) throw new CrowbarError('os.missing', `OS ${want} for ${node.name} is not imported (crowbar os list)`);
    return pick;
  }
}
