import { describe, expect, it } from 'vitest';
import { findOverlaps, formatRange, parseSubids, rangesFor } from '../../src/host/subid.js';

const file = `# comment
alice:100000:65536
bob:165536:65536
1001:300000:1000
garbage line
carol:abc:10
alice:400000:10
`;

describe('subid files', () => {
  it('parses owner:start:count lines and skips the rest', () => {
    const entries = parseSubids(file);
    expect(entries.map((e) => e.owner)).toEqual(['alice', 'bob', '1001', 'alice']);
    expect(entries[0]).toEqual({ owner: 'alice', start: 100000, count: 65536, line: 2 });
  });

  it('matches a user by name or by uid, in file order', () => {
    const entries = parseSubids(file);
    expect(rangesFor(entries, { name: 'alice', uid: 1000 }).map((e) => e.start)).toEqual([100000, 400000]);
    expect(rangesFor(entries, { name: 'dave', uid: 1001 }).map((e) => e.start)).toEqual([300000]);
    expect(rangesFor(entries, { name: undefined, uid: 42 })).toEqual([]);
  });

  it('finds ranges shared with another user', () => {
    const entries = parseSubids('alice:100000:65536\nbob:150000:65536\ncarol:165536:10\n');
    const overlaps = findOverlaps(entries, { name: 'alice', uid: 1000 });
    expect(overlaps).toHaveLength(1);
    expect(overlaps[0]?.theirs.owner).toBe('bob');
    // Adjacent is not overlapping.
    expect(findOverlaps(parseSubids('a:1:10\nb:11:10\n'), { name: 'a', uid: 5 })).toEqual([]);
  });

  it('formats ranges inclusively', () => {
    expect(formatRange({ start: 100000, count: 65536 })).toBe('100000-165535');
  });
});
