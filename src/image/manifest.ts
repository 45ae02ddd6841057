/**
 * Parsing manifests, indexes and configs that came from outside (a registry,
 * an archive): every field hutch relies on is checked, so a lying source gives
 * a clear error instead of a crash or a bad store.
 */
import { HutchError } from '../errors.js';
import { isDigest } from './digest.js';
import { isIndexType, MediaType } from './media.js';
import type { Descriptor, ImageConfig, Index, Manifest } from './oci.js';

/** Documents bigger than this are refused before they are read (manifests are a few KiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

function bad(what: string, why: string): HutchError {
  return new HutchError(`${what}: invalid document: ${why}`, {
    hint: 'the registry or archive sent something that is not an OCI or Docker image; nothing was stored',
  });
}

function parseJson(body: Buffer, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw bad(what, `not JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(what, 'not a JSON object');
  return value as Record<string, unknown>;
}

export function checkDescriptor(value: unknown, what: string): Descriptor {
  if (typeof value !== 'object' || value === null) throw bad(what, 'a descriptor is not an object');
  const d = value as Record<string, unknown>;
  if (typeof d.mediaType !== 'string' || d.mediaType === '') throw bad(what, 'a descriptor has no mediaType');
  if (typeof d.digest !== 'string' || !isDigest(d.digest)) throw bad(what, `bad digest ${JSON.stringify(d.digest)}`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw bad(what, `bad size ${JSON.stringify(d.size)} for ${d.digest}`);
  }
  return d as unknown as Descriptor;
}

export type ParsedDocument = { kind: 'index'; index: Index } | { kind: 'manifest'; manifest: Manifest };

/** mediaType: what the registry said (Content-Type) when the body does not say it. */
export function parseManifestDocument(body: Buffer, mediaType: string | undefined, what: string): ParsedDocument {
  const json = parseJson(body, what);
  if (json.schemaVersion !== 2)
    throw bad(what, `schemaVersion ${JSON.stringify(json.schemaVersion)} is not 2 (schema 1 images are not supported)`);
  const type = typeof json.mediaType === 'string' ? json.mediaType : mediaType;
  if (Array.isArray(json.manifests) || isIndexType(type)) {
    if (!Array.isArray(json.manifests)) throw bad(what, 'an index without manifests');
    json.manifests.forEach((m) => checkDescriptor(m, what));
    return { kind: 'index', index: json as unknown as Index };
  }
  checkDescriptor(json.config, what);
  if (!Array.isArray(json.layers)) throw bad(what, 'a manifest without layers');
  json.layers.forEach((l) => checkDescriptor(l, what));
  return { kind: 'manifest', manifest: json as unknown as Manifest };
}

export function manifestMediaType(manifest: Manifest, fallback: string | undefined): string {
  return manifest.mediaType ?? fallback ?? MediaType.ociManifest;
}

export function parseImageConfig(body: Buffer, layerCount: number, what: string): ImageConfig {
  const json = parseJson(body, what);
  const rootfs = json.rootfs as Record<string, unknown> | undefined;
  if (rootfs === undefined || !Array.isArray(rootfs.diff_ids)) throw bad(what, 'the config has no rootfs.diff_ids');
  for (const id of rootfs.diff_ids)
    if (typeof id !== 'string' || !isDigest(id)) throw bad(what, `bad diff id ${JSON.stringify(id)}`);
  if (rootfs.diff_ids.length !== layerCount) {
    throw bad(what, `the config lists ${rootfs.diff_ids.length} layers, the manifest ${layerCount}`);
  }
  return json as unknown as ImageConfig;
}
