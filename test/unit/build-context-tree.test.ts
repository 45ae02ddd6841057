/**
 * BuildContext.openTree: a root file system to copy from (COPY --from, RUN
 * --mount from=). Its symlinks resolve inside it, as in a container: an
 * absolute target starts at its root and `..` stops there.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BuildContext } from '../../src/build/context.js';

const root = mkdtempSync(join(tmpdir(), 'hutch-tree-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
mkdirSync(join(root, 'etc'));
writeFileSync(join(root, 'etc', 'real'), 'inside\n');
symlinkSync('/etc/real', join(root, 'etc', 'absolute'));
symlinkSync('../../../../etc/real', join(root, 'etc', 'climbing'));
writeFileSync(join(root, '.dockerignore'), 'etc\n');

describe('BuildContext.openTree', () => {
  it('follows absolute and climbing links inside the tree, with no ignore file', async () => {
    const tree = await BuildContext.openTree(root);
    const position = { line: 1, column: 1 };
    const sources = await tree.resolveSources(
      [
        { source: '/etc/absolute', position },
        { source: 'etc/climbing', position },
      ],
      { file: 'Containerfile' },
    );
    expect(sources.map((s) => s.entries[0]?.absolute)).toEqual([join(root, 'etc', 'real'), join(root, 'etc', 'real')]);
    expect(sources.map((s) => s.name)).toEqual(['absolute', 'climbing']);
  });

  it('is unlike a context, where the same links lead out', async () => {
    const context = await BuildContext.open(root, { ignoreFile: '/dev/null' });
    await expect(
      context.resolveSources([{ source: 'etc/absolute', position: { line: 2, column: 6 } }], { file: 'Containerfile' }),
    ).rejects.toThrow(/Containerfile:2:6: COPY etc\/absolute: forbidden path outside the build context/);
  });
});
