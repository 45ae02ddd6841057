/**
 * hutch build --memory/--pids-limit: RUN steps run in a cgroup of their own
 * that holds the limits from their first instruction, or the build is refused
 * before any step, with the reason and the fix, where the host cannot enforce
 * them (this host binds memory and pids to cgroup v1). The user-mode-linux
 * guest (cgroups-guest.test.ts) is where the enforcement itself is proven.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCgroupFacts } from '../../src/run/cgroups/probe.js';
import { errorLines, hutch, ok, sandbox, storeListing, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

describe.skipIf(need.skip)('hutch build with resource limits', () => {
  let box: Sandbox;
  let dir: string;
  beforeAll(async () => {
    box = sandbox();
    dir = mkdtempSync(join(tmpdir(), 'hutch-build-limits-'));
    ok(['import', await busyboxRootfsTar(), 'busybox'], box);
    writeFileSync(
      join(dir, 'Containerfile'),
      'FROM busybox\nRUN cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max > /limits\n',
    );
  });
  afterAll(() => box.dispose(dir));

  it('--memory and --pids-limit hold in RUN steps, or are refused before any step', () => {
    const storage = join(box.env.XDG_DATA_HOME as string, 'hutch');
    const before = storeListing(storage);
    const facts = readCgroupFacts();
    const args = ['build', '--memory', '32m', '--pids-limit', '20', '-t', 'limited', dir];
    if (facts.delegatedControllers.includes('memory') && facts.delegatedControllers.includes('pids')) {
      ok(args, box);
      expect(ok(['run', '--rm', 'limited', 'cat', '/limits'], box)).toBe('33554432\n20\n');
      return;
    }
    const refused = hutch(args, box);
    expect(refused.status).toBe(125);
    expect(errorLines(refused.stderr)).toHaveLength(1);
    expect(refused.stderr).toMatch(
      /^Error: cannot enforce --memory, --pids-limit \(cgroup v2 memory and pids controllers\): /m,
    );
    expect(refused.stderr).toMatch(/^hint: /m);
    expect(refused.stdout).not.toMatch(/STEP 2/);
    expect(storeListing(storage)).toEqual(before);
  });

  it('rejects a limit that does not parse, naming the flag', () => {
    const refused = hutch(['build', '--memory', 'lots', dir], box);
    expect(refused.status).toBe(125);
    expect(refused.stderr).toMatch(/--memory/);
  });
});
