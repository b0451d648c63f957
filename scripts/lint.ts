/**
 * Project lint, run by `npm run check`:
 *  1. Dependency direction between layers of src/ (docs/architecture.md):
 *     a module may import only from the layers listed for its own layer.
 *  2. Defaults are wired only in the composition root: `systemClock` and
 *     `createLogger(` appear only in src/main.ts, src/cli.ts and src/lib.
 *  3. Every exported function/class/interface/type/const in src/ has a doc
 *     comment (a `/**` block or a `//` line right above it).
 * Exits non-zero listing every violation.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');

/** Layer -> layers it may import (besides itself). */
const ALLOWED: Record<string, readonly string[]> = {
  lib: [],
  config: ['lib'],
  net: ['lib'],
  http: ['lib'],
  protocols: ['lib', 'net'],
  ipmi: ['lib', 'net'],
  model: ['lib'],
  state: ['lib', 'model'],
  store: ['lib', 'model', 'state'],
  boot: ['lib', 'model', 'state', 'config'],
  barclamps: ['lib', 'model', 'config'],
  services: ['lib', 'config', 'net', 'protocols', 'ipmi', 'model', 'state', 'store', 'boot', 'barclamps'],
  api: ['lib', 'config', 'model', 'state', 'store', 'services', 'boot', 'barclamps', 'http'],
  console: ['lib', 'config', 'model', 'state', 'store', 'services', 'api'],
  cli: ['lib', 'config', 'model'],
  sim: ['lib', 'net', 'protocols', 'ipmi', 'model'],
  root: ['*'],
};

function layerOf(file: string): string {
  const rel = relative(SRC, file);
  const first = rel.split('/')[0];
  if (first.endsWith('.ts')) return 'root'; // main.ts, cli.ts
  return first;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

const problems: string[] = [];
const IMPORT = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

for (const file of walk(SRC)) {
  const text = readFileSync(file, 'utf8');
  const layer = layerOf(file);
  const rel = relative(ROOT, file);
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2];
    if (!spec.startsWith('.')) continue;
    const target = resolve(dirname(file), spec);
    if (!target.startsWith(SRC)) {
      problems.push(`${rel}: imports ${spec} from outside src/`);
      continue;
    }
    const tl = layerOf(target.replace(/\.js$/, '.ts'));
    if (tl === layer) {
      // protocols/<a> must not import protocols/<b>
      if (layer === 'protocols') {
        const a = relative(SRC, file).split('/')[1];
        const b = relative(SRC, target).split('/')[1];
        if (a !== b) problems.push(`${rel}: protocols/${a} must not import protocols/${b} (${spec})`);
      }
      continue;
    }
    const allowed = ALLOWED[layer];
    if (!allowed) {
      problems.push(`${rel}: unknown layer ${layer} (add it to scripts/lint.ts and docs/architecture.md)`);
      continue;
    }
    if (!allowed.includes('*') && !allowed.includes(tl)) problems.push(`${rel}: layer ${layer} must not import ${tl} (${spec})`);
  }
  if (layer !== 'root' && layer !== 'lib') {
    for (const [i, line] of text.split('\n').entries()) {
      if (/\bsystemClock\b/.test(line) || /\bcreateLogger\(/.test(line))
        problems.push(`${rel}:${i + 1}: defaults (systemClock, createLogger) are wired only in src/main.ts`);
    }
  }
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (!/^export\s+(async\s+)?(function|class|interface|type|const|enum|abstract\s+class)\s/.test(line)) return;
    let j = i - 1;
    while (j >= 0 && lines[j].trim() === '') j--;
    const prev = j >= 0 ? lines[j].trim() : '';
    if (!(prev.endsWith('*/') || prev.startsWith('//') || prev.startsWith('*'))) problems.push(`${rel}:${i + 1}: exported symbol without a doc comment`);
  });
}

if (problems.length) {
  process.stderr.write(problems.join('\n') + `\n${problems.length} lint problem(s)\n`);
  process.exit(1);
}
process.stdout.write('lint: ok\n');
