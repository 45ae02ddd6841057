/**
 * Subordinate id ranges (/etc/subuid, /etc/subgid; subuid(5)): lines of
 * `owner:start:count`, where owner is a user name or a numeric uid.
 */

export interface IdRange {
  start: number;
  count: number;
}

export interface SubidEntry extends IdRange {
  owner: string;
  /** 1-based line number, for messages. */
  line: number;
}

export interface SubidOverlap {
  ours: SubidEntry;
  theirs: SubidEntry;
}

const MAX_ID = 2 ** 32 - 1;

/** Parses a subid file. Lines that are not `owner:start:count` are skipped, as shadow's tools do. */
export function parseSubids(text: string): SubidEntry[] {
  const entries: SubidEntry[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^([^:]+):(\d+):(\d+)$/.exec(line);
    if (match === null) return;
    const start = Number(match[2]);
    const count = Number(match[3]);
    if (count === 0 || start + count - 1 > MAX_ID) return;
    entries.push({ owner: match[1] as string, start, count, line: index + 1 });
  });
  return entries;
}

export interface SubidOwner {
  name: string | undefined;
  uid: number;
}

function owns(entry: SubidEntry, owner: SubidOwner): boolean {
  return entry.owner === owner.name || entry.owner === String(owner.uid);
}

/** The user's ranges, in file order (the order newuidmap is given them). */
export function rangesFor(entries: SubidEntry[], owner: SubidOwner): SubidEntry[] {
  return entries.filter((e) => owns(e, owner));
}

/** Each of the user's ranges that shares ids with another user's range. */
export function findOverlaps(entries: SubidEntry[], owner: SubidOwner): SubidOverlap[] {
  const ours = rangesFor(entries, owner);
  const others = entries.filter((e) => !owns(e, owner));
  const overlaps: SubidOverlap[] = [];
  for (const mine of ours) {
    for (const theirs of others) {
      if (mine.start < theirs.start + theirs.count && theirs.start < mine.start + mine.count) {
        overlaps.push({ ours: mine, theirs });
      }
    }
  }
  return overlaps;
}

export function formatRange(range: IdRange): string {
  return `${range.start}-${range.start + range.count - 1}`;
}
