import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { treeSize } from '../../src/fs/tree-size.js';

describe('treeSize', () => {
  it('adds the files and links below a directory, a hard-linked file once, and never follows a link', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hutch-size-'));
    try {
      mkdirSync(join(dir, 'a', 'b'), { recursive: true });
      writeFileSync(join(dir, 'a', 'ten'), '0123456789');
      writeFileSync(join(dir, 'a', 'b', 'three'), 'abc');
      linkSync(join(dir, 'a', 'ten'), join(dir, 'hard'));
      symlinkSync('/etc', join(dir, 'link'));
      expect(treeSize(dir)).toBe(10 + 3 + '/etc'.length);
      expect(treeSize(join(dir, 'missing'))).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
