/**
 * Which fds a node process was handed: checked in a real child node process
 * started with fds 3 and 4 (a file and one end of a pipe), and without.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleForNode } from '../helpers/bundle.js';
import { repoRoot } from '../helpers/requires.js';

describe('isInheritedFd', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hutch-fds-'));
  const probe = join(dir, 'probe.mjs');
  beforeAll(async () => {
    await bundleForNode(
      {
        code: `
          import { isInheritedFd } from '../../src/host/inherited-fds.js';
          console.log(JSON.stringify([3, 4, 5].map(isInheritedFd)));
        `,
        resolveDir: join(repoRoot, 'test/unit'),
      },
      probe,
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const childSays = (stdio: ('ignore' | 'pipe' | number)[]): boolean[] => {
    const result = spawnSync(process.execPath, [probe], { stdio, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(result.stderr);
    return JSON.parse(result.stdout) as boolean[];
  };

  it('tells the fds a caller handed on from those node opened itself', () => {
    // Node's own fds take 3 on: an epoll fd first, then pipes it holds both ends of.
    expect(childSays(['ignore', 'pipe', 'pipe'])).toEqual([false, false, false]);
    const file = openSync('/etc/hostname', 'r');
    try {
      expect(childSays(['ignore', 'pipe', 'pipe', file, 'pipe'])).toEqual([true, true, false]);
    } finally {
      closeSync(file);
    }
  });
});
