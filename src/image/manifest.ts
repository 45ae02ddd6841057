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

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((v) => typeof v === 'string');
const isStringMap = (value: unknown): value is Record<string, string> =>
  isObject(value) && Object.values(value).every((v) => typeof v === 'string');

/**
 * The optional fields of `object` that must have a type when present (the
 * OCI image spec's; Go's decoder, which podman and the registries use, refuses
 * a document where they have another). JSON null reads as absent, as in Go,
 * and is dropped from the parsed object (the document's bytes are kept as
 * they came). `where` names the object in the message.
 */
function checkFields(
  object: Record<string, unknown>,
  types: Record<string, 'string' | 'strings' | 'map' | 'object' | 'number' | 'boolean' | 'strings-or-null'>,
  what: string,
  where: string,
): void {
  for (const [key, type] of Object.entries(types)) {
    const value = object[key];
    if (value === undefined) continue;
    if (value === null) {
      if (type !== 'strings-or-null') delete object[key];
      continue;
    }
    const ok =
      type === 'string'
        ? typeof value === 'string'
        : type === 'strings' || type === 'strings-or-null'
          ? isStringArray(value)
          : type === 'map'
            ? isStringMap(value)
            : type === 'object'
              ? isObject(value)
              : typeof value === type;
    if (!ok) throw bad(what, `${where}${key} is ${JSON.stringify(value)?.slice(0, 60)}, not ${TYPE_WORDS[type]}`);
  }
}

const TYPE_WORDS = {
  string: 'a string',
  strings: 'a list of strings',
  'strings-or-null': 'a list of strings',
  map: 'an object of strings',
  object: 'an object',
  number: 'a number',
  boolean: 'true or false',
} as const;

export function checkDescriptor(value: unknown, what: string): Descriptor {
  if (!isObject(value)) throw bad(what, 'a descriptor is not an object');
  const d = value;
  if (typeof d.mediaType !== 'string' || d.mediaType === '') throw bad(what, 'a descriptor has no mediaType');
  if (typeof d.digest !== 'string' || !isDigest(d.digest)) throw bad(what, `bad digest ${JSON.stringify(d.digest)}`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw bad(what, `bad size ${JSON.stringify(d.size)} for ${d.digest}`);
  }
  const where = `the descriptor of ${d.digest}: `;
  checkFields(
    d,
    { urls: 'strings', annotations: 'map', platform: 'object', artifactType: 'string', data: 'string' },
    what,
    where,
  );
  if (d.platform !== undefined) {
    const p = d.platform as Record<string, unknown>;
    checkFields(
      p,
      { os: 'string', architecture: 'string', variant: 'string', 'os.version': 'string', 'os.features': 'strings' },
      what,
      `${where}platform.`,
    );
    if (typeof p.os !== 'string' || typeof p.architecture !== 'string') {
      throw bad(what, `${where}its platform has no os and architecture`);
    }
  }
  return d as unknown as Descriptor;
}

/** The fields a manifest and an index share, beyond their descriptors. */
function checkDocumentFields(json: Record<string, unknown>, what: string): void {
  checkFields(json, { mediaType: 'string', artifactType: 'string', annotations: 'map', subject: 'object' }, what, '');
  if (json.subject !== undefined) checkDescriptor(json.subject, what);
}

export type ParsedDocument = { kind: 'index'; index: Index } | { kind: 'manifest'; manifest: Manifest };

/** mediaType: what the registry said (Content-Type) when the body does not say it. */
export function parseManifestDocument(body: Buffer, mediaType: string | undefined, what: string): ParsedDocument {
  const json = parseJson(body, what);
  if (json.schemaVersion !== 2)
    throw bad(what, `schemaVersion ${JSON.stringify(json.schemaVersion)} is not 2 (schema 1 images are not supported)`);
  const type = typeof json.mediaType === 'string' ? json.mediaType : mediaType;
  checkDocumentFields(json, what);
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

/** What an image config's `config` holds, with the types hutch reads them as (oci.ts ContainerConfig). */
const CONTAINER_CONFIG_FIELDS = {
  User: 'string',
  ExposedPorts: 'object',
  Env: 'strings',
  Entrypoint: 'strings-or-null',
  Cmd: 'strings-or-null',
  Volumes: 'object',
  WorkingDir: 'string',
  Labels: 'map',
  StopSignal: 'string',
  Healthcheck: 'object',
  OnBuild: 'strings-or-null',
  Shell: 'strings',
  ArgsEscaped: 'boolean',
} as const;

export function parseImageConfig(body: Buffer, layerCount: number, what: string): ImageConfig {
  const json = parseJson(body, what);
  const rootfs = json.rootfs;
  if (!isObject(rootfs) || !Array.isArray(rootfs.diff_ids)) throw bad(what, 'the config has no rootfs.diff_ids');
  for (const id of rootfs.diff_ids)
    if (typeof id !== 'string' || !isDigest(id)) throw bad(what, `bad diff id ${JSON.stringify(id)}`);
  if (rootfs.diff_ids.length !== layerCount) {
    throw bad(what, `the config lists ${rootfs.diff_ids.length} layers, the manifest ${layerCount}`);
  }
  checkFields(
    json,
    {
      architecture: 'string',
      os: 'string',
      variant: 'string',
      'os.version': 'string',
      'os.features': 'strings',
      created: 'string',
      author: 'string',
      config: 'object',
    },
    what,
    'the config: ',
  );
  if (json.config !== undefined) {
    const config = json.config as Record<string, unknown>;
    checkFields(config, CONTAINER_CONFIG_FIELDS, what, 'the config: config.');
    if (config.Healthcheck !== undefined) {
      checkFields(
        config.Healthcheck as Record<string, unknown>,
        {
          Test: 'strings',
          Interval: 'number',
          Timeout: 'number',
          StartPeriod: 'number',
          StartInterval: 'number',
          Retries: 'number',
        },
        what,
        'the config: config.Healthcheck.',
      );
    }
  }
  if (json.history !== undefined && json.history !== null) {
    if (!Array.isArray(json.history)) throw bad(what, 'the config: history is not a list');
    for (const entry of json.history) {
      if (!isObject(entry)) throw bad(what, 'the config: a history entry is not an object');
      checkFields(
        entry,
        { created: 'string', created_by: 'string', author: 'string', comment: 'string', empty_layer: 'boolean' },
        what,
        'the config: history entry ',
      );
    }
  } else {
    delete json.history;
  }
  return json as unknown as ImageConfig;
}
