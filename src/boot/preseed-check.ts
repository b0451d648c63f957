/**
 * A structural check of preseed files (debconf selections), run before the
 * appliance serves one: each line is `owner question type value`, the type
 * is a debconf type, boolean answers are true/false, no question is answered
 * twice, and every line is printable ASCII. Tests also run Debian's own
 * `debconf-set-selections --checkonly` on every rendered preseed.
 */

const TYPES = new Set(['string', 'boolean', 'select', 'multiselect', 'note', 'text', 'password', 'error', 'title']);

/** Check a preseed file; returns the problems as `line N: message` (empty when none). */
export function checkPreseed(text: string): string[] {
  const errs: string[] = [];
  const seen = new Map<string, number>();
  text.split('\n').forEach((raw, i) => {
    const n = i + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (!/^[\x20-\x7e]*$/.test(raw)) return errs.push(`line ${n}: not printable ASCII`);
    const m = /^(\S+)\s+(\S+)\s+(\S+)(?:\s(.*))?$/.exec(line);
    if (!m) return errs.push(`line ${n}: expected "owner question type value"`);
    const [, owner, question, type, value = ''] = m;
    if (!/^[a-z0-9][a-z0-9.+-]*$/.test(owner)) errs.push(`line ${n}: bad owner ${owner}`);
    if (!/^[a-z0-9][a-z0-9.+_-]*\/[A-Za-z0-9/._+-]+$/.test(question)) errs.push(`line ${n}: bad question name ${question}`);
    if (!TYPES.has(type)) errs.push(`line ${n}: unknown type ${type} of ${question}`);
    if (type === 'boolean' && !['true', 'false'].includes(value.trim())) errs.push(`line ${n}: ${question} is boolean, got ${JSON.stringify(value)}`);
    const prev = seen.get(`${owner} ${question}`);
    if (prev !== undefined) errs.push(`line ${n}: ${question} already answered on line ${prev}`);
    seen.set(`${owner} ${question}`, n);
  });
  return errs;
}
