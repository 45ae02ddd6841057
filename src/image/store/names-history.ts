/**
 * The names an image has had, newest first: podman's NamesHistory (`images
 * --format '{{.History}}'`, inspect's NamesHistory), which keeps a name after
 * rmi or untag took it off. containers/storage's rule, applied whenever an
 * image's names change (recordNamesHistory).
 *
 * It lives in index.json itself, as one top-level annotation (a JSON object
 * from manifest digest to names), so it changes in the same atomic rewrite as
 * the names and needs no file of its own; OCI readers ignore it. An image that
 * leaves the index leaves the history too.
 */
import type { Digest } from '../digest.js';
import { RefNameAnnotation, type Index } from '../oci.js';

export const NamesHistoryAnnotation = 'io.github.hutch.names-history';

type History = Record<string, string[]>;

function historyOf(index: Index): History {
  const text = index.annotations?.[NamesHistoryAnnotation];
  if (text === undefined) return {};
  try {
    const value = JSON.parse(text) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return {};
    const history: History = {};
    for (const [digest, names] of Object.entries(value as Record<string, unknown>)) {
      if (Array.isArray(names)) history[digest] = names.filter((n): n is string => typeof n === 'string');
    }
    return history;
  } catch {
    // A damaged annotation costs the history, never the index.
    return {};
  }
}

function namesByDigest(index: Index): Map<string, string[]> {
  const names = new Map<string, string[]>();
  for (const entry of index.manifests) {
    const list = names.get(entry.digest) ?? [];
    const name = entry.annotations?.[RefNameAnnotation];
    if (name !== undefined && name !== '') list.push(name);
    names.set(entry.digest, list);
  }
  return names;
}

/** The names the image (by manifest digest) has had, newest first. */
export function namesHistoryOf(index: Index, digest: Digest): string[] {
  return historyOf(index)[digest] ?? [];
}

/**
 * `after` with its history brought up to date from the names `before` had,
 * as containers/storage does it: names added to an image (tag, a commit)
 * go in front of its history; when names are taken off (untag, rmi of one
 * name) the names it keeps go in front; a name that moved to another image
 * leaves the history of the one that lost it as it was. Images gone from the
 * index lose their history.
 */
export function recordNamesHistory(before: Index, after: Index): Index {
  const old = historyOf(before);
  const previous = namesByDigest(before);
  const current = namesByDigest(after);
  const everyName = new Set([...current.values()].flat());
  const history: History = {};
  for (const [digest, names] of current) {
    const was = previous.get(digest) ?? [];
    const dropped = was.filter((n) => !names.includes(n) && !everyName.has(n));
    const added = names.filter((n) => !was.includes(n));
    const front = dropped.length > 0 ? names : added;
    const kept = old[digest] ?? [];
    const next = [...new Set([...front, ...kept])];
    if (next.length > 0) history[digest] = next;
  }
  const annotations = { ...after.annotations };
  if (Object.keys(history).length === 0) delete annotations[NamesHistoryAnnotation];
  else annotations[NamesHistoryAnnotation] = JSON.stringify(history);
  const { annotations: _dropped, ...rest } = after;
  return Object.keys(annotations).length === 0 ? rest : { ...rest, annotations };
}
