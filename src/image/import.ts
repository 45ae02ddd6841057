/**
 * `hutch import ROOTFS.tar [REF]`, as `podman import`: a root file system tar
 * (plain, gzip or zstd) becomes a one-layer image for the host platform.
 *
 * One pass reads the tar, hashing the uncompressed bytes (the diff id) and
 * gzip-compressing them into a staged blob; the layer is then unpacked from
 * that blob through extractLayer, which refuses hostile tars; only then is the
 * blob committed, the config and manifest written and the name pointed at the
 * image. A failure at any step leaves the store as it was.
 */
import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { HutchError, withContext } from '../errors.js';
import { digestOf, HashingStream, hexOf, VerifyingStream, type Digest } from './digest.js';
import { compressStream, decompressStream, detectCompression } from './layer/compression.js';
import { MediaType } from './media.js';
import { hostPlatform, type ContainerConfig, type ImageConfig, type Manifest } from './oci.js';
import type { StagedBlob } from './store/blobs.js';
import { unpackLayer } from './store/layers.js';
import { meterStream, SpaceGuard } from './store/reserve.js';
import { normalizeTag } from './store/refs.js';
import { openUserStore, storageError, type ImageStore } from './store/store.js';

export interface ImportOptions {
  /** The root file system tar. */
  file: string;
  /** The name to give the image; nameless when undefined. */
  reference?: string;
  /** The history comment (podman's --message). */
  message?: string;
  /** Dockerfile instructions applied to the config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL. */
  changes?: string[];
  /** What unpacking the layer has to say (a file it could not restore as it was); the caller prints it. */
  onWarning: (message: string) => void;
}

/** Imports the tar; returns the image id. */
export async function importImage(options: ImportOptions, env: NodeJS.ProcessEnv = process.env): Promise<Digest> {
  // Everything the user typed is checked before the store is touched.
  const containerConfig: ContainerConfig = {};
  for (const change of options.changes ?? []) applyChange(containerConfig, change);
  if (options.reference !== undefined) normalizeTag(options.reference);
  const file = resolve(options.file);
  try {
    if (!statSync(file).isFile()) throw new HutchError(`import ${options.file}: not a regular file`);
  } catch (error) {
    if (error instanceof HutchError) throw error;
    throw withContext('import', `import ${options.file}`, error);
  }

  const { store, identity } = await openUserStore(env);
  const release = await store.writeLock();
  let staged: StagedBlob | undefined;
  try {
    const compression = detectCompression(readHead(file, 8));
    const diff = new HashingStream();
    // The staged blob and the unpacked layer both stay above the disk reserve;
    // a layer too large to unpack is refused while it is read (forecast).
    const space = new SpaceGuard(store.storageDir, env);
    const counted = meterStream(space.meter(`storing the layer of ${options.file}`));
    const layerSize = meterStream(space.forecast(`the layer of ${options.file}`));
    staged = await store.blobs.stage(
      (() => {
        const source = createReadStream(file);
        void pipeline(source, decompressStream(compression), diff, layerSize, compressStream('gzip'), counted).catch(
          (error: unknown) => counted.destroy(error as Error),
        );
        return counted;
      })(),
      undefined,
      { what: `layer of ${options.file}` },
    );
    const diffId = diff.digest();
    await unpackLayer(store, diffId, verifiedFile(staged.path, staged.digest), 'gzip', {
      userXattrs: !identity.root,
      onWarning: options.onWarning,
      space,
    });
    staged.commit();
    const created = new Date().toISOString();
    const platform = hostPlatform();
    const config: ImageConfig = {
      created,
      architecture: platform.architecture,
      os: platform.os,
      config: containerConfig,
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [
        {
          created,
          created_by: `/bin/sh -c #(nop) ADD file:${hexOf(diffId)} in /`,
          comment: options.message ?? 'imported from tarball',
        },
      ],
    };
    const id = await commitDocuments(store, options.reference, config, [
      { mediaType: MediaType.ociLayerGzip, digest: staged.digest, size: staged.size },
    ]);
    return id;
  } catch (error) {
    staged?.discard();
    const full = storageError(error, store.storageDir, `import ${options.file}`);
    throw full !== error ? full : withContext('import', `import ${options.file}`, error);
  } finally {
    release();
    // Blobs of a failed import (its config, say), or of an image a name moved
    // away from, go now if no other writer is busy.
    await store.collectGarbage({ wait: false }).catch(() => undefined);
  }
}

/** Writes config and manifest blobs and commits the image; returns its id. */
export async function commitDocuments(
  store: ImageStore,
  reference: string | undefined,
  config: ImageConfig,
  layers: Manifest['layers'],
): Promise<Digest> {
  const configBody = Buffer.from(JSON.stringify(config));
  const configBlob = await store.blobs.write(configBody);
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: configBlob.digest, size: configBlob.size },
    layers,
  };
  const body = Buffer.from(JSON.stringify(manifest));
  const descriptor = { mediaType: MediaType.ociManifest, digest: digestOf(body), size: body.length };
  return store.commitImage(reference, { descriptor, body });
}

/** A file's content, failing at the end unless it hashes to digest. */
export function verifiedFile(path: string, digest: Digest, size?: number): VerifyingStream {
  const verifier = new VerifyingStream(path, { digest, size });
  void pipeline(createReadStream(path), verifier).catch(() => undefined);
  return verifier;
}

function readHead(file: string, length: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    return buffer.subarray(0, readSync(fd, buffer, 0, length, 0));
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------
// --change

const CHANGE_HINT =
  'supported: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL, e.g. --change \'CMD ["sh"]\'';

/** Applies one Dockerfile instruction (podman import's --change) to a config. */
export function applyChange(config: ContainerConfig, change: string): void {
  const match = /^\s*([A-Za-z]+)\s+([\s\S]*?)\s*$/.exec(change);
  const bad = (why: string) =>
    new HutchError(`invalid --change ${JSON.stringify(change)}: ${why}`, { hint: CHANGE_HINT });
  if (match === null) throw bad('expected an instruction and its arguments');
  const instruction = (match[1] as string).toUpperCase();
  const args = match[2] as string;
  if (args === '') throw bad(`${instruction} needs an argument`);
  switch (instruction) {
    case 'CMD':
      config.Cmd = commandForm(args);
      return;
    case 'ENTRYPOINT':
      config.Entrypoint = commandForm(args);
      return;
    case 'ENV': {
      const env = config.Env ?? [];
      for (const [key, value] of keyValues(args, bad)) {
        const i = env.findIndex((e) => e.split('=')[0] === key);
        if (i >= 0) env[i] = `${key}=${value}`;
        else env.push(`${key}=${value}`);
      }
      config.Env = env;
      return;
    }
    case 'LABEL': {
      const labels = config.Labels ?? {};
      for (const [key, value] of keyValues(args, bad)) labels[key] = value;
      config.Labels = labels;
      return;
    }
    case 'EXPOSE': {
      const ports = config.ExposedPorts ?? {};
      for (const port of words(args)) {
        if (!/^\d{1,5}(\/(tcp|udp|sctp))?$/.test(port))
          throw bad(`${JSON.stringify(port)} is not a port (PORT[/tcp|udp|sctp])`);
        ports[port.includes('/') ? port : `${port}/tcp`] = {};
      }
      config.ExposedPorts = ports;
      return;
    }
    case 'VOLUME': {
      const volumes = config.Volumes ?? {};
      const list = args.startsWith('[') ? jsonArray(args, bad) : words(args);
      for (const v of list) volumes[v] = {};
      config.Volumes = volumes;
      return;
    }
    case 'USER':
      config.User = args;
      return;
    case 'WORKDIR':
      config.WorkingDir = args;
      return;
    case 'STOPSIGNAL':
      config.StopSignal = args;
      return;
    default:
      throw bad(`${instruction} cannot be applied to an imported image`);
  }
}

/** `["a","b"]` (exec form) or `a b` (shell form: /bin/sh -c "a b"). */
function commandForm(args: string): string[] {
  if (args.startsWith('[')) {
    try {
      const value = JSON.parse(args) as unknown;
      if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
    } catch {
      // shell form after all, as docker does with a malformed JSON array
    }
  }
  return ['/bin/sh', '-c', args];
}

function jsonArray(args: string, bad: (why: string) => HutchError): string[] {
  try {
    const value = JSON.parse(args) as unknown;
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  } catch {
    // below
  }
  throw bad('expected a JSON array of strings');
}

/** Splits on blanks, honouring "double" and 'single' quotes and backslash escapes. */
function words(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let started = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) current += text[++i];
      else current += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      started = true;
    } else if (c === '\\' && i + 1 < text.length) {
      current += text[++i];
      started = true;
    } else if (/\s/.test(c)) {
      if (started) out.push(current);
      current = '';
      started = false;
    } else {
      current += c;
      started = true;
    }
  }
  if (started) out.push(current);
  return out;
}

/** `k=v k2="v 2"`, or the old `k v w` form (one pair: the rest is the value). */
function keyValues(args: string, bad: (why: string) => HutchError): [string, string][] {
  const parts = words(args);
  if (parts.length > 0 && !(parts[0] as string).includes('=')) {
    const [key, ...rest] = args.trim().split(/\s+/);
    if (rest.length === 0) throw bad(`${key} needs a value`);
    return [[key as string, words(args.trim().slice((key as string).length)).join(' ')]];
  }
  return parts.map((part) => {
    const eq = part.indexOf('=');
    if (eq <= 0) throw bad(`${JSON.stringify(part)} is not KEY=VALUE`);
    return [part.slice(0, eq), part.slice(eq + 1)];
  });
}
