/**
 * `hutch system check [--repair]`: verifies the whole store and, with repair,
 * removes what is broken until it is consistent again. Runs with the store
 * lock held exclusively, so no writer is in the middle of a pull or import and
 * whatever no image uses is garbage.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { HutchError } from '../../errors.js';
import { algorithmOf, HashingStream, shortId, type Digest } from '../digest.js';
import { layerCompression } from '../media.js';
import { unpackLayer } from './layers.js';
import { abandonedEntries, removeLeftover } from './leftovers.js';
import { acquireLock } from '../../fs/lock.js';
import { readIndex } from './refs.js';
import type { ImageStore } from './store.js';
import { removeTree } from '../../fs/remove-tree.js';

export interface Finding {
  /** One line: what is wrong. */
  problem: string;
  /**
   * 'unused': verified content no image uses (left by an interrupted pull,
   * kept so the next one resumes): space to reclaim, not an inconsistency.
   */
  kind: 'problem' | 'unused';
  /** What --repair did about it; undefined when not repaired. */
  repaired?: string;
  /** When the repair failed: the one thing to do about it. */
  hint?: string;
}

export interface CheckOptions {
  repair: boolean;
  /** For re-unpacking a missing layer from its blob (true when rootless). */
  userXattrs: boolean;
}

export interface CheckReport {
  findings: Finding[];
  /** True when the store is consistent at the end (nothing found, or everything repaired). */
  consistent: boolean;
}

export async function checkStore(store: ImageStore, options: CheckOptions): Promise<CheckReport> {
  const release = await acquireLock(store.storeLockPath);
  try {
    const problems = (list: Finding[]) => list.filter((f) => f.kind === 'problem');
    const findings = await checkLocked(store, options);
    if (!options.repair || findings.length === 0) return { findings, consistent: problems(findings).length === 0 };
    // Repairs can uncover more (an image whose only problem was a blob removed as corrupt): go again.
    const again = await checkLocked(store, { ...options, repair: false });
    const still = again.map((f): Finding => ({ ...f, problem: `still: ${f.problem}` }));
    return { findings: [...findings, ...still], consistent: problems(again).length === 0 };
  } finally {
    release();
  }
}

/** Hashes a blob file: its digest and size. */
async function hashFile(path: string, algorithm: 'sha256' | 'sha512'): Promise<{ digest: Digest; size: number }> {
  const hashing = new HashingStream(algorithm);
  hashing.resume();
  await pipeline(createReadStream(path), hashing);
  return { digest: hashing.digest(), size: hashing.size };
}

async function checkLocked(store: ImageStore, options: CheckOptions): Promise<Finding[]> {
  const findings: Finding[] = [];
  const found = (problem: string, repair?: () => string | Promise<string>, kind: Finding['kind'] = 'problem') => {
    const finding: Finding = { problem, kind };
    findings.push(finding);
    if (!options.repair || repair === undefined) return Promise.resolve();
    return Promise.resolve()
      .then(repair)
      .then(
        (what) => {
          finding.repaired = what;
        },
        (error: unknown) => {
          finding.problem += ` (repair failed: ${(error as Error).message})`;
          if (error instanceof HutchError && error.hint !== undefined) finding.hint = error.hint;
        },
      );
  };

  // The layout itself.
  const layout = store.layoutProblem();
  if (layout !== undefined) {
    await found(layout, () => {
      store.resetLayout();
      return 'rewrote it';
    });
  }
  let index;
  try {
    index = readIndex(store.indexPath);
  } catch (error) {
    await found(`oci/index.json is unreadable: ${(error as Error).message}`, () => {
      store.resetIndex();
      return 'replaced it by an empty index (every image is gone)';
    });
    if (!options.repair) return findings;
    index = readIndex(store.indexPath);
  }

  // Leftovers of dead commands: entries of tmp/ no live process holds a flock on
  // (leftovers.ts); a killed build's overlay is detached before its workspace goes.
  for (const path of abandonedEntries(store.tmpDir)) {
    await found(`leftover ${relative(store, path)} of an interrupted command`, () => {
      const detached = removeLeftover(path, () => readFileSync('/proc/self/mountinfo', 'utf8'));
      if (detached === undefined) return 'gone already';
      return detached.length === 0
        ? 'removed'
        : `unmounted ${detached.map((p) => relative(store, p)).join(', ')} and removed`;
    });
  }

  // Every blob hashes to its name.
  const corrupt = new Set<string>();
  for (const stray of store.blobs.strays()) {
    await found(`${relative(store, stray)} is not a blob`, () => {
      removeTree(stray);
      return 'removed';
    });
  }
  for (const digest of store.blobs.list()) {
    const actual = await hashFile(store.blobs.path(digest), algorithmOf(digest));
    if (actual.digest === digest) continue;
    corrupt.add(digest);
    await found(`blob ${digest} is corrupt (its content hashes to ${actual.digest})`, () => {
      store.blobs.remove(digest);
      return 'removed';
    });
  }

  // Every image: documents readable, blobs present with the right sizes, layers unpacked.
  const { images, damaged } = store.scan(index);
  const broken: { digest: Digest; finding: Finding }[] = [];
  const brokenImage = (digest: Digest, problem: string) => {
    const finding: Finding = { problem, kind: 'problem' };
    findings.push(finding);
    broken.push({ digest, finding });
  };
  for (const image of damaged) brokenImage(image.digest, `image ${label(image.names, image.digest)}: ${image.problem}`);
  for (const image of images) {
    const digest = image.manifestDescriptor.digest;
    const name = label(image.names, digest);
    const problems: string[] = [];
    for (const blob of [digest, image.id]) if (corrupt.has(blob)) problems.push(`blob ${blob} is corrupt`);
    const missing: { diffId: Digest; layer: (typeof image.manifest.layers)[number] }[] = [];
    image.manifest.layers.forEach((layer, i) => {
      const diffId = image.config.rootfs.diff_ids[i] as Digest;
      const size = store.blobs.size(layer.digest);
      if (size === undefined) problems.push(`layer blob ${layer.digest} is missing`);
      else if (corrupt.has(layer.digest)) problems.push(`layer blob ${layer.digest} is corrupt`);
      else if (size !== layer.size)
        problems.push(`layer blob ${layer.digest} is ${size} bytes, the manifest says ${layer.size}`);
      else if (!store.layers.has(diffId)) missing.push({ diffId, layer });
    });
    if (problems.length > 0) {
      for (const problem of problems) brokenImage(digest, `image ${name}: ${problem}`);
      continue;
    }
    for (const { diffId, layer } of missing) {
      await found(`image ${name}: layer ${diffId} is not unpacked`, async () => {
        const compression = layerCompression(layer.mediaType);
        if (compression === undefined)
          throw new HutchError(`layer ${layer.digest} has unknown media type ${layer.mediaType}`);
        await unpackLayer(store, diffId, store.blobs.open(layer.digest, layer.size), compression, {
          userXattrs: options.userXattrs,
        });
        return 'unpacked it again from its blob';
      });
    }
  }
  if (options.repair && broken.length > 0) {
    await store.removeImages(broken.map((b) => b.digest));
    for (const { finding } of broken) finding.repaired = 'removed the image';
  }

  // Unpacked layers that are incomplete or not layers at all.
  for (const stray of store.layers.strays()) {
    await found(`${relative(store, stray)} is not a complete layer`, () => {
      store.layers.discard(stray);
      return 'removed';
    });
  }

  // Garbage: what no image uses (the store lock excludes writers, so nothing is on its way in).
  const reach = store.reachable(readIndex(store.indexPath));
  if (reach !== undefined) {
    for (const digest of store.blobs.list()) {
      if (reach.blobs.has(digest) || corrupt.has(digest)) continue;
      await found(
        `blob ${digest} is not used by any image`,
        () => {
          store.blobs.remove(digest);
          return 'removed';
        },
        'unused',
      );
    }
    for (const diffId of store.layers.list()) {
      if (reach.layers.has(diffId)) continue;
      await found(
        `layer ${diffId} is not used by any image`,
        () => {
          store.layers.remove(diffId);
          return 'removed';
        },
        'unused',
      );
    }
  }
  return findings;
}

/** How an image is named in a finding: its names and the short manifest digest. */
function label(names: string[], digest: Digest): string {
  return names.length === 0
    ? `<none> (manifest ${shortId(digest)})`
    : `${names.join(', ')} (manifest ${shortId(digest)})`;
}

function relative(store: ImageStore, path: string): string {
  return path.startsWith(`${store.storageDir}/`) ? path.slice(store.storageDir.length + 1) : path;
}
