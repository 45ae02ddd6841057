/**
 * docs/build-differences.md as data: the known differences between hutch's
 * and buildah's builds of the corpus, each with its reason. The differential
 * test (test/integration/build-differential.test.ts) accepts exactly these:
 * a difference it finds must be listed, and a listed one must still be found
 * (so the page never describes a difference that is gone).
 *
 * The page holds three tables, told apart by their header row:
 *
 *   | entry | difference | reason |        differs in the images, every time
 *   | entry | may differ | reason |        differs where it occurs: depends on
 *                                           the time of the build, or on whether
 *                                           a step ran (`*`: every entry)
 *   | entry | hutch | buildah | reason |    who builds and who refuses
 *
 * `entry` is a corpus entry's name (`43-expose`, `bad/bad-expose`), or `*`
 * for every entry (may-differ rows only); a difference is where the harness
 * reports it: `config.FIELD`, `config.Labels.KEY`, or a root file system
 * path, optionally with the field (`/etc/passwd sha256`); a path covers its
 * subtree. hutch and buildah say `builds` or `refuses`. Cells may be wrapped
 * in backticks.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Difference } from './differential.js';
import { repoRoot } from './requires.js';

export const differencesPage = join(repoRoot, 'docs', 'build-differences.md');

export interface ListedDifference {
  entry: string;
  where: string;
  reason: string;
  /** A `difference` row (must be found); a `may differ` row is accepted where it occurs. */
  required: boolean;
}

export type Outcome = 'builds' | 'refuses';

export interface ListedOutcome {
  entry: string;
  hutch: Outcome;
  buildah: Outcome;
  reason: string;
}

export interface KnownDifferences {
  differences: ListedDifference[];
  outcomes: ListedOutcome[];
}

function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((c) => c.trim().replace(/^`(.*)`$/, '$1'));
}

/** Parses the page's two tables; throws on a malformed row (file:line). */
export function parseDifferences(text: string, file = 'docs/build-differences.md'): KnownDifferences {
  const out: KnownDifferences = { differences: [], outcomes: [] };
  let table: 'differences' | 'may' | 'outcomes' | undefined;
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    const where = `${file}:${index + 1}`;
    if (!line.trim().startsWith('|')) {
      table = undefined;
      return;
    }
    const row = cells(line);
    if (row.every((c) => /^:?-+:?$/.test(c))) return;
    const header = row.join('|').toLowerCase();
    if (header === 'entry|difference|reason') {
      table = 'differences';
      return;
    }
    if (header === 'entry|may differ|reason') {
      table = 'may';
      return;
    }
    if (header === 'entry|hutch|buildah|reason') {
      table = 'outcomes';
      return;
    }
    if (table === undefined) throw new Error(`${where}: a row of a table this page does not define`);
    if (table === 'differences' || table === 'may') {
      const [entry, difference, reason] = row;
      if (row.length !== 3 || !entry || !difference || !reason)
        throw new Error(`${where}: want entry, difference, reason`);
      if (entry === '*' && table === 'differences') throw new Error(`${where}: * rows go in the may-differ table`);
      if (!/^(config\.\S+|\/\S*( (type|mode|uid|gid|size|sha256|link))?)$/.test(difference)) {
        throw new Error(`${where}: ${difference} is neither config.FIELD nor a path with an optional field`);
      }
      out.differences.push({ entry, where: difference, reason, required: table === 'differences' });
      return;
    }
    const [entry, hutch, buildah, reason] = row;
    const outcome = (v: string | undefined): v is Outcome => v === 'builds' || v === 'refuses';
    if (row.length !== 4 || !entry || !outcome(hutch) || !outcome(buildah) || !reason) {
      throw new Error(`${where}: want entry, hutch (builds|refuses), buildah (builds|refuses), reason`);
    }
    out.outcomes.push({ entry, hutch, buildah, reason });
  });
  return out;
}

export function loadDifferences(): KnownDifferences {
  return parseDifferences(readFileSync(differencesPage, 'utf8'));
}

/** Whether a listed `where` covers a reported one (same key; a path's field or subtree; a config field's keys). */
export function covers(listed: string, reported: string): boolean {
  if (listed === reported) return true;
  if (listed.startsWith('config.')) return reported.startsWith(`${listed}.`);
  if (listed.includes(' ')) return false;
  const base = listed === '/' ? '' : listed;
  return reported.startsWith(`${listed} `) || reported.startsWith(`${base}/`);
}

export interface Judgement {
  /** Reported differences no row lists. */
  unexpected: Difference[];
  /** Required rows of this entry that matched nothing. */
  stale: ListedDifference[];
}

/**
 * Sorts an entry's reported differences against the list: the entry's own
 * rows and the `*` rows absorb what they cover; the entry's required rows
 * must each absorb something.
 */
export function judge(entry: string, reported: readonly Difference[], known: KnownDifferences): Judgement {
  const own = known.differences.filter((d) => d.entry === entry);
  const everywhere = known.differences.filter((d) => d.entry === '*');
  const used = new Set<ListedDifference>();
  const unexpected: Difference[] = [];
  for (const d of reported) {
    const row = [...own, ...everywhere].find((r) => covers(r.where, d.where));
    if (row === undefined) unexpected.push(d);
    else used.add(row);
  }
  return { unexpected, stale: own.filter((r) => r.required && !used.has(r)) };
}

/** The key of a checkExpected() problem line (`config.Env: …`, `/etc/x: mode …`) as a difference's `where`. */
export function problemWhere(problem: string): string {
  const colon = problem.indexOf(': ');
  const key = colon < 0 ? problem : problem.slice(0, colon);
  if (key.startsWith('config.')) return key;
  const field = /^(type|mode|uid|gid|link) /.exec(problem.slice(colon + 2))?.[1];
  if (field !== undefined) return `${key} ${field}`;
  return /: content differs/.test(problem) ? `${key} sha256` : key;
}
