import { describe, expect, it } from 'vitest';
import { BadPatternError, cleanPath, goMatch, IgnoreRules } from '../../src/build/ignore.js';

describe('goMatch: Go filepath.Match', () => {
  const cases: [string, string, boolean][] = [
    ['abc', 'abc', true],
    ['*', 'abc', true],
    ['*c', 'abc', true],
    ['a*', 'a', true],
    ['a*', 'abc', true],
    ['a*', 'ab/c', false],
    ['a*/b', 'abc/b', true],
    ['a*/b', 'a/c/b', false],
    ['a*b*c*d*e*/f', 'axbxcxdxe/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false],
    ['a*b?c*x', 'abxbbxdbxebxczzx', true],
    ['a*b?c*x', 'abxbbxdbxebxczzy', false],
    ['ab[c]', 'abc', true],
    ['ab[b-d]', 'abc', true],
    ['ab[e-g]', 'abc', false],
    ['ab[^c]', 'abc', false],
    ['ab[^b-d]', 'abc', false],
    ['ab[^e-g]', 'abc', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'ab', false],
    ['a?b', 'a☺b', true],
    ['a[^a]b', 'a☺b', true],
    ['a???b', 'a☺b', false],
    ['*x', 'xxx', true],
    ['**', 'a', true],
    ['**', 'a/b', false],
    ['.*', '.hidden', true],
    ['*', '.hidden', true],
  ];
  it.each(cases)('Match(%j, %j) = %s', (pattern, name, want) => {
    expect(goMatch(pattern, name)).toBe(want);
  });

  it('malformed patterns are errors', () => {
    for (const bad of ['[', 'a[', '[^', '[^bc', 'a[b-', '[]a]', '[-]', '[x-]', '[a-b-c]', '[\\', 'a\\']) {
      expect(() => goMatch(bad, 'a'), bad).toThrow(BadPatternError);
    }
  });
});

describe('cleanPath: Go filepath.Clean', () => {
  it.each([
    ['', '.'],
    ['a/', 'a'],
    ['./a//b/', 'a/b'],
    ['a/../b', 'b'],
    ['../a', '../a'],
    ['/../a', '/a'],
    ['/', '/'],
    ['a/./b/..', 'a'],
  ])('%j → %j', (input, want) => {
    expect(cleanPath(input)).toBe(want);
  });
});

/** The rules of an ignore file, and which of the paths they exclude. */
function excluded(file: string, paths: string[]): string[] {
  const rules = IgnoreRules.parse(file);
  return paths.filter((p) => rules.excludes(p));
}

describe('IgnoreRules: Docker .dockerignore semantics', () => {
  const tree = [
    'README.md',
    'a.txt',
    'b.txt',
    'src',
    'src/main.go',
    'src/a.txt',
    'docs',
    'docs/index.md',
    'docs/keep.md',
    'docs/sub/deep.md',
    'node_modules/x/index.js',
    'x/y/foo/z',
    'foo',
  ];

  it('a plain name matches at the root only, and everything below it', () => {
    expect(excluded('docs\n', tree)).toEqual(['docs', 'docs/index.md', 'docs/keep.md', 'docs/sub/deep.md']);
    expect(excluded('a.txt\n', tree)).toEqual(['a.txt']);
  });

  it('* and ? stay within one directory level', () => {
    expect(excluded('*.txt\n', tree)).toEqual(['a.txt', 'b.txt']);
    expect(excluded('?.txt\n', tree)).toEqual(['a.txt', 'b.txt']);
    expect(excluded('*/*.txt\n', tree)).toEqual(['src/a.txt']);
  });

  it('** matches any number of directories', () => {
    expect(excluded('**/*.txt\n', tree)).toEqual(['a.txt', 'b.txt', 'src/a.txt']);
    expect(excluded('**/foo\n', tree)).toEqual(['x/y/foo/z', 'foo']);
    expect(excluded('docs/**\n', tree)).toEqual(['docs/index.md', 'docs/keep.md', 'docs/sub/deep.md']);
    expect(excluded('docs/**/*.md\n', tree)).toEqual(['docs/index.md', 'docs/keep.md', 'docs/sub/deep.md']);
    expect(excluded('**\n', tree)).toEqual(tree);
  });

  it('! exceptions re-include; later rules win', () => {
    expect(excluded('docs\n!docs/keep.md\n', tree)).toEqual(['docs', 'docs/index.md', 'docs/sub/deep.md']);
    expect(excluded('*.txt\n!a.txt\n', tree)).toEqual(['b.txt']);
    expect(excluded('!a.txt\n*.txt\n', tree)).toEqual(['a.txt', 'b.txt']);
    expect(excluded('*\n!src\n', tree)).not.toContain('src/main.go');
    expect(excluded('*\n!src\n', tree)).toContain('README.md');
  });

  it('cleans patterns: ./, trailing /, leading /, .. and duplicate slashes; trims spaces', () => {
    expect(excluded('./docs/\n', tree)).toContain('docs/index.md');
    expect(excluded('/src//main.go\n', tree)).toEqual(['src/main.go']);
    expect(excluded('docs/../a.txt\n', tree)).toEqual(['a.txt']);
    expect(excluded('   a.txt   \n', tree)).toEqual(['a.txt']);
    expect(excluded('! a.txt\n*.txt\n!  a.txt\n', tree)).toEqual(['b.txt']);
  });

  it('comments only in the first column; blank lines; CRLF; BOM', () => {
    expect(excluded('# a.txt\n\n', tree)).toEqual([]);
    expect(IgnoreRules.parse('  # a.txt\n').patterns.map(String)).toEqual(['# a.txt']);
    expect(excluded('\uFEFFa.txt\r\nb.txt\r\n', tree)).toEqual(['a.txt', 'b.txt']);
  });

  it('the root is never excluded', () => {
    expect(IgnoreRules.parse('*\n**\n.\n').excludes('.')).toBe(false);
  });

  it('character classes and escapes', () => {
    expect(excluded('[ab].txt\n', tree)).toEqual(['a.txt', 'b.txt']);
    expect(excluded('[^a].txt\n', tree)).toEqual(['b.txt']);
    const rules = IgnoreRules.parse('\\*.txt\n');
    expect(rules.excludes('*.txt')).toBe(true);
    expect(rules.excludes('a.txt')).toBe(false);
  });

  it('regular-expression characters are literal; matching is case-sensitive (where @balena/dockerignore differs)', () => {
    const one = (pattern: string, path: string) => IgnoreRules.parse(pattern).excludes(path);
    expect(one('a+b.txt', 'a+b.txt')).toBe(true);
    expect(one('a+b.txt', 'aab.txt')).toBe(false);
    expect(one('file(1).txt', 'file(1).txt')).toBe(true);
    expect(one('file(1).txt', 'file1.txt')).toBe(false);
    expect(one('{a,b}.txt', '{a,b}.txt')).toBe(true);
    expect(one('a|b', 'a')).toBe(false);
    expect(one('a$b', 'a$b')).toBe(true);
    expect(one('README.md', 'readme.md')).toBe(false);
    // No glob character: an exact comparison, ^ included.
    expect(one('^x', '^x')).toBe(true);
    expect(one('^x*', '^xy')).toBe(false);
  });

  it('errors name the line', () => {
    expect(() => IgnoreRules.parse('ok\n[\n')).toThrow('syntax error in pattern "[" on line 2');
    expect(() => IgnoreRules.parse('!\n')).toThrow('on line 1');
  });

  it('a walk may skip an excluded directory only when no exception can reach inside', () => {
    expect(IgnoreRules.parse('node_modules\n').canSkipBelow('node_modules')).toBe(true);
    expect(IgnoreRules.parse('node_modules\n!src/keep\n').canSkipBelow('node_modules')).toBe(true);
    expect(IgnoreRules.parse('docs\n!docs/keep.md\n').canSkipBelow('docs')).toBe(false);
    expect(IgnoreRules.parse('docs\n!**/keep.md\n').canSkipBelow('docs')).toBe(false);
    expect(IgnoreRules.parse('docs\n!*/keep.md\n').canSkipBelow('docs')).toBe(false);
  });

  it("a COPY enters an excluded directory only when an exception's text starts with its path (buildah)", () => {
    const rules = IgnoreRules.parse('subdir1\nsubdir2\n!*/sub1*\n!subdir1/sub3*\n');
    expect(rules.entersExcluded('subdir1')).toBe(true);
    expect(rules.entersExcluded('subdir2')).toBe(false);
    // A plain prefix of the text, as buildah compares it: `subdir` is a prefix of `subdir1/sub3*`.
    expect(rules.entersExcluded('subdir')).toBe(true);
    expect(IgnoreRules.parse('docs\n!docs/keep.md\n').entersExcluded('docs')).toBe(true);
    expect(IgnoreRules.parse('docs\n!**/keep.md\n').entersExcluded('docs')).toBe(false);
    expect(IgnoreRules.parse('docs\n').entersExcluded('docs')).toBe(false);
    expect(IgnoreRules.parse('a\n!/a/b/\n').entersExcluded('a/')).toBe(true);
  });

  it('match() with parent info gives the same answers as excludes()', () => {
    const rules = IgnoreRules.parse('docs\n!docs/keep.md\n**/*.txt\n!src/a.txt\n');
    const root = rules.match('.').info;
    const docs = rules.match('docs', root);
    expect(docs.excluded).toBe(true);
    expect(rules.match('docs/keep.md', docs.info).excluded).toBe(false);
    expect(rules.match('docs/index.md', docs.info).excluded).toBe(true);
    const src = rules.match('src', root);
    expect(rules.match('src/a.txt', src.info).excluded).toBe(false);
    expect(rules.match('src/main.go', src.info).excluded).toBe(false);
  });
});
