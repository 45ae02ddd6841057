/**
 * docs/build-differences.md, the list of known differences the build
 * differential test accepts: it parses, names only corpus entries, agrees
 * with what expectations.json records of buildah, and the matching rules of
 * test/helpers/build-differences.ts hold.
 */
import { describe, expect, it } from 'vitest';
import { covers, judge, loadDifferences, parseDifferences, problemWhere } from '../helpers/build-differences.js';
import { loadCorpus, loadExpectations } from '../helpers/differential.js';

const corpus = loadCorpus();
const known = loadDifferences();

describe('docs/build-differences.md', () => {
  it('names only corpus entries, each difference once', () => {
    const names = new Set(corpus.map((e) => e.name));
    for (const row of [...known.differences, ...known.outcomes]) {
      if (row.entry !== '*') expect(names.has(row.entry), `${row.entry} is not a corpus entry`).toBe(true);
    }
    const keys = known.differences.map((d) => `${d.entry} ${d.where}`);
    expect(new Set(keys).size).toBe(keys.length);
    const outcomes = known.outcomes.map((o) => o.entry);
    expect(new Set(outcomes).size).toBe(outcomes.length);
  });

  it('lists every outcome expectations.json records of buildah, and no other', () => {
    for (const entry of corpus) {
      const b = entry.expect.buildah;
      const row = known.outcomes.find((o) => o.entry === entry.name);
      const buildahDiffers = (b?.fails !== undefined && !entry.bad) || b?.accepts !== undefined;
      if (!buildahDiffers) {
        // A row for an entry buildah treats as Docker does can only be about hutch.
        if (row !== undefined) expect(row.buildah, entry.name).toBe(entry.bad ? 'refuses' : 'builds');
        continue;
      }
      expect(row?.buildah, entry.name).toBe(entry.bad ? 'builds' : 'refuses');
    }
  });

  it("has buildah's always-differences as its * rows", () => {
    const always = loadExpectations().always;
    const star = known.differences
      .filter((d) => d.entry === '*')
      .map((d) => d.where)
      .sort();
    const recorded = [...Object.keys(always.config).map((k) => `config.${k}`), ...Object.keys(always.rootfs)].sort();
    expect(star).toEqual(recorded);
  });
});

describe('matching differences', () => {
  it('a path covers its fields and subtree, a field only itself', () => {
    expect(covers('/run', '/run')).toBe(true);
    expect(covers('/run', '/run/secrets')).toBe(true);
    expect(covers('/run', '/run mode')).toBe(true);
    expect(covers('/run', '/running')).toBe(false);
    expect(covers('/etc/passwd sha256', '/etc/passwd sha256')).toBe(true);
    expect(covers('/etc/passwd sha256', '/etc/passwd size')).toBe(false);
    expect(covers('config.Labels', 'config.Labels.a')).toBe(true);
    expect(covers('config.Env', 'config.Entrypoint')).toBe(false);
  });

  it('judges unexpected and stale rows', () => {
    const list = parseDifferences(
      [
        '| entry | difference | reason |',
        '| --- | --- | --- |',
        '| `e1` | `config.Cmd` | why |',
        '| `e1` | `/x mode` | why |',
        '',
        '| entry | may differ | reason |',
        '| --- | --- | --- |',
        '| `*` | `/run` | leftovers |',
        '| `e1` | `/log sha256` | time |',
      ].join('\n'),
    );
    const d = (where: string) => ({ where, a: 1, b: 2 });
    expect(judge('e1', [d('config.Cmd'), d('/x mode'), d('/run/secrets')], list)).toEqual({
      unexpected: [],
      stale: [],
    });
    const j = judge('e1', [d('config.Cmd'), d('/x uid')], list);
    expect(j.unexpected.map((u) => u.where)).toEqual(['/x uid']);
    expect(j.stale.map((s) => s.where)).toEqual(['/x mode']);
    expect(judge('e1', [d('config.Cmd'), d('/x mode'), d('/log sha256')], list)).toEqual({ unexpected: [], stale: [] });
    expect(judge('e2', [d('config.Cmd')], list).unexpected).toHaveLength(1);
    expect(judge('e2', [d('/log sha256')], list).unexpected).toHaveLength(1);
  });

  it('refuses malformed rows with file:line', () => {
    expect(() => parseDifferences('| entry | difference | reason |\n| a | not a key | r |')).toThrow(
      /build-differences\.md:2: /,
    );
    expect(() => parseDifferences('| entry | hutch | buildah | reason |\n| a | maybe | builds | r |')).toThrow(
      /:2: want entry/,
    );
    expect(() => parseDifferences('| entry | difference | reason |\n| * | /run | r |')).toThrow(/may-differ/);
  });

  it('turns checkExpected problems into difference keys', () => {
    expect(problemWhere('config.Env: ["A"], want ["B"]')).toBe('config.Env');
    expect(problemWhere('config.Labels.x: "1", want "2"')).toBe('config.Labels.x');
    expect(problemWhere('/a/b: mode 0644, want 0755')).toBe('/a/b mode');
    expect(problemWhere('/a/b: content differs from "x"')).toBe('/a/b sha256');
    expect(problemWhere('/a/b: missing')).toBe('/a/b');
  });
});
