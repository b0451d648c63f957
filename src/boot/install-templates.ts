/**
 * Install-config templates of the provisioner barclamp
 * (barclamps/provisioner/templates/): the most specific name wins, and a miss
 * names every file that was looked for. Names are
 * `<purpose>.<os>.<arch>.tpl`, `<purpose>.<os>.tpl`, `<purpose>.tpl`, where
 * `<os>` is first the release (`ubuntu-24.04`) then the family (`ubuntu`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CrowbarError, errorMessage } from '../lib/errors.js';
import type { OsFamily } from '../model/os.js';
import type { TemplateFormat } from './template-lang.js';

/** What an install template is for. */
export type InstallPurpose = 'kickstart' | 'preseed' | 'autoinstall' | 'post-install';

/** The OS facts the lookup uses. */
export interface TemplateTarget {
  family: OsFamily;
  version: string;
  arch: string;
}

/** The template file names to try, most specific first. */
export function templateCandidates(purpose: InstallPurpose, t: TemplateTarget): string[] {
  const names = [
    `${purpose}.${t.family}-${t.version}.${t.arch}.tpl`,
    `${purpose}.${t.family}-${t.version}.tpl`,
    `${purpose}.${t.family}.${t.arch}.tpl`,
    `${purpose}.${t.family}.tpl`,
    `${purpose}.tpl`,
  ];
  return [...new Set(names)];
}

/**
 * Pick the most specific template among `available` file names; throws
 * `not_found` naming every candidate when none exists.
 */
export function lookupTemplate(available: readonly string[], purpose: InstallPurpose, t: TemplateTarget): string {
  const want = templateCandidates(purpose, t);
  const have = new Set(available);
  const hit = want.find((n) => have.has(n));
  if (!hit) throw new CrowbarError('not_found', `no ${purpose} template for ${t.family}-${t.version} (${t.arch}): looked for ${want.join(', ')}`, { tried: want });
  return hit;
}

/** The install-config format of an OS: Anaconda kickstart, d-i preseed, or subiquity autoinstall (Ubuntu 20.04 and later). */
export function purposeFor(family: OsFamily, version: string): Exclude<InstallPurpose, 'post-install'> {
  if (family === 'rhel') return 'kickstart';
  if (family === 'ubuntu') {
    const m = /^(\d+)\.(\d+)/.exec(version);
    return m && Number(m[1]) >= 20 ? 'autoinstall' : 'preseed';
  }
  return 'preseed';
}

/** The escaping of each purpose's output. */
export function formatOf(purpose: InstallPurpose): TemplateFormat {
  return purpose === 'autoinstall' ? 'yaml' : 'line';
}

/** Reads install templates from a directory (re-read on each use, so edits apply at once). */
export class InstallTemplateStore {
  constructor(readonly dir: string) {}

  /** File names in the directory. */
  names(): string[] {
    try {
      return readdirSync(this.dir).filter((n) => n.endsWith('.tpl'));
    } catch (e) {
      throw new CrowbarError('internal', `install templates ${this.dir} cannot be read: ${errorMessage(e)}`);
    }
  }

  /** The chosen template's name and text. */
  load(purpose: InstallPurpose, t: TemplateTarget): { name: string; text: string } {
    const name = lookupTemplate(this.names(), purpose, t);
    return { name, text: readFileSync(join(this.dir, name), 'utf8') };
  }
}
