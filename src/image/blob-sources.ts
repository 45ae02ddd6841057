/**
 * Where each blob is known to exist in registries (`registry/repository`), so
 * a push to another repository of the same registry can mount it instead of
 * uploading it again. A cache: losing an update only costs an upload.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Digest } from './digest.js';
import { writeFileAtomic } from '../fs/atomic-write.js';

type Sources = Record<string, string[]>;

const FILE = 'blob-sources.json';
const MAX_PER_BLOB = 8;

function read(storage: string): Sources {
  try {
    const value = JSON.parse(readFileSync(join(storage, FILE), 'utf8')) as unknown;
    return typeof value === 'object' && value !== null ? (value as Sources) : {};
  } catch {
    // None yet, or unusable: a cache, so the cost is an upload a mount would have saved.
    return {};
  }
}

/** The repositories (`registry/repository`) known to hold digest, most recent first. */
export function blobSources(storage: string, digest: Digest): string[] {
  const list = read(storage)[digest];
  return Array.isArray(list) ? list.filter((s) => typeof s === 'string') : [];
}

export function recordBlobSources(storage: string, repository: string, digests: Digest[]): void {
  const sources = read(storage);
  for (const digest of digests) {
    const list = (sources[digest] ?? []).filter((s) => s !== repository);
    sources[digest] = [repository, ...list].slice(0, MAX_PER_BLOB);
  }
  const path = join(storage, FILE);
  writeFileAtomic(path, JSON.stringify(sources));
}
