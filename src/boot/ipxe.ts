/**
 * iPXE script templates (pxe/*.ipxe): loading and rendering. Templates use
 * `{{name}}` placeholders (iPXE's own `${...}` variables pass through
 * untouched). Every value is checked to be one printable line so no input can
 * inject iPXE commands; an unknown placeholder is an error, never left blank.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CrowbarError, errorMessage } from '../lib/errors.js';
import type { BootGroup } from '../model/node.js';

/** The pxe/ directory shipped with Crowbar (repository root / install root). */
export const DEFAULT_TEMPLATE_DIR = resolve(import.meta.dirname, '..', '..', 'pxe');

/** Template names the appliance renders: one per boot group plus `wait` and `image-install` (os-install of a root image). */
export type TemplateName = Exclude<BootGroup, 'none'> | 'none' | 'wait' | 'image-install';

const SAFE = /^[\x20-\x7e]*$/;

/** Replace `{{key}}` placeholders in `template` with values from `ctx`. */
export function renderTemplate(template: string, ctx: Readonly<Record<string, string>>, name = 'template'): string {
  return template.replace(/\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}/g, (_m, key: string) => {
    const v = ctx[key];
    if (v === undefined) throw new CrowbarError('internal', `${name}: no value for {{${key}}}`);
    if (!SAFE.test(v)) throw new CrowbarError('internal', `${name}: value of {{${key}}} is not a printable single line`);
    return v;
  });
}

/** Reads templates from a directory (re-read on every use, so edits apply at once). */
export class TemplateStore {
  constructor(readonly dir: string = DEFAULT_TEMPLATE_DIR) {}

  /** The text of template `name` (file `<dir>/<name>.ipxe`). */
  load(name: TemplateName): string {
    const file = join(this.dir, `${name}.ipxe`);
    try {
      return readFileSync(file, 'utf8');
    } catch (e) {
      throw new CrowbarError('internal', `iPXE template ${file} cannot be read: ${errorMessage(e)}`);
    }
  }

  /** Load and render template `name`. */
  render(name: TemplateName, ctx: Readonly<Record<string, string>>): string {
    return renderTemplate(this.load(name), ctx, `${name}.ipxe`);
  }
}
