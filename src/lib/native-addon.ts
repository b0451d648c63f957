/**
 * Loading the project's N-API addons (built by scripts/build-native.sh into
 * build/native/): one dlopen and a check that the expected constructor is
 * exported. Never throws: a load error says why the addon is unusable, and the
 * caller falls back to its JavaScript path.
 */

/** Load the addon at `path` and return its exported constructor `name`, or why that failed. */
export function loadNativeExport<T>(path: string, name: string): { value: T } | { error: string } {
  try {
    const m = { exports: {} as Record<string, unknown> };
    process.dlopen(m, path);
    const v = m.exports[name];
    if (typeof v !== 'function') return { error: `${path}: no ${name} export` };
    return { value: v as T };
  } catch (e) {
    return { error: (e as Error).message };
  }
}
