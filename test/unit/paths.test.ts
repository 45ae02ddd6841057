import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseIdMap } from '../../src/run/identity.js';
import { resolvePaths, runtimeDir } from '../../src/paths.js';

const uid = process.getuid?.() ?? 0;

describe('paths', () => {
  it('keeps storage under XDG_DATA_HOME, or ~/.local/share', () => {
    expect(resolvePaths({ XDG_DATA_HOME: '/d', HOME: '/h' }, uid).storage).toBe('/d/hutch');
    expect(resolvePaths({ HOME: '/h' }, uid).storage).toBe('/h/.local/share/hutch');
    expect(resolvePaths({ XDG_DATA_HOME: 'relative', HOME: '/h' }, uid).storage).toBe('/h/.local/share/hutch');
  });

  it('uses XDG_RUNTIME_DIR only when it is our own directory', () => {
    const own = mkdtempSync(join(tmpdir(), 'hutch-paths-'));
    expect(runtimeDir({ XDG_RUNTIME_DIR: own }, uid)).toBe(join(own, 'hutch'));
    expect(runtimeDir({ XDG_RUNTIME_DIR: '/nonexistent' }, uid)).toBe(`/tmp/hutch-${uid}`);
    expect(runtimeDir({}, uid)).toBe(`/tmp/hutch-${uid}`);
    // A directory of another user (after su, say) is not ours.
    if (uid !== 0) expect(runtimeDir({ XDG_RUNTIME_DIR: '/' }, uid)).toBe(`/tmp/hutch-${uid}`);
  });
});

describe('id map parsing', () => {
  it('reads /proc/PID/uid_map lines', () => {
    expect(parseIdMap('         0       1001          1\n         1     100000      65536\n')).toEqual([
      { inside: 0, outside: 1001, count: 1 },
      { inside: 1, outside: 100000, count: 65536 },
    ]);
  });
});
