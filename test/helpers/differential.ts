/**
 * The differential harness: build the same Containerfile with hutch and with
 * buildah (Debian's, rootless, vfs storage of its own), read both images'
 * configs and root file systems the same way, and compare them field by
 * field.
 *
 * Both images are read from a `docker-archive` (`buildah push` and `hutch
 * save` write one): the config is the image's own JSON, and the root file
 * system is its layer tars stacked with OCI whiteouts, so the comparison sees
 * what a registry would get, with in-image owners, and needs no mount.
 *
 * Base images come from one local registry for both tools: the busybox and
 * Debian root file system tars of test/helpers/images.ts, published as
 * `REGISTRY/library/busybox:latest` and `REGISTRY/library/debian:bookworm`.
 * buildah reaches docker.io through a registries.conf mirror to that
 * registry, so `FROM busybox` needs no internet; hutch gets the same images
 * from the same registry (the lead's hutchBuild decides how: pull and tag, or
 * a mirror). Every build also gets `--build-arg REGISTRY=…` and
 * `--build-arg BASEURL=…` (a local HTTP server for ADD URL entries).
 *
 * The corpus is test/corpus/NN-name/ (good) and test/corpus/bad/name/ (must
 * fail), described by test/corpus/expectations.json.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import type { TreeEntry } from './images.js';
import { repoRoot } from './requires.js';

export const corpusRoot = join(repoRoot, 'test', 'corpus');

// ---------------------------------------------------------------------------
// The corpus and its expectations.

/** What a tool should do with an entry, when it is not "build and match". */
export interface ToolExpectation {
  /** The tool must fail; its output must match this regular expression. */
  fails?: string;
  /** For a bad entry: the tool builds it although Docker refuses it; why. */
  accepts?: string;
  /** Why (for a known difference: the reason that goes to docs/containerfile.md). */
  reason?: string;
  /** Where it differs, with the reason: `config.Env`, `config.Labels.x`, or a rootfs path (`/etc/hosts`, its subtree too). */
  differs?: Record<string, string>;
}

export interface ExpectedFile {
  type?: TreeEntry['type'];
  /** Octal, as a string ("0755"). */
  mode?: string;
  uid?: number;
  gid?: number;
  content?: string;
  link?: string;
}

export interface EntrySetup {
  /** Context-relative path → octal mode, applied after copying (git keeps only 644 and 755). */
  chmod?: Record<string, string>;
  /** Context-relative path → link target. */
  symlinks?: Record<string, string>;
  /** Empty directories (git keeps none). */
  mkdir?: string[];
}

export interface EntryExpectation {
  /** What the entry exercises. */
  covers: string[];
  buildArgs?: Record<string, string>;
  target?: string;
  /** Secret id → file in the context directory. */
  secrets?: Record<string, string>;
  /** The Containerfile's name, when not `Containerfile`. */
  file?: string;
  setup?: EntrySetup;
  /** Files the local HTTP server serves for ADD (name → content). */
  serve?: Record<string, string>;
  /** Needs the Debian base image (slow to make the first time). */
  debian?: boolean;
  /**
   * For entries under bad/: hutch must fail with this error (line 0: not tied
   * to a line, such as a --target that names no stage); `message` is a
   * regular expression.
   */
  error?: { line: number; column?: number; message: string };
  /** Who can tell the entry is bad: the front half (parse, plan, context; default) or only a build. */
  when?: 'parse' | 'build';
  /**
   * What the image must hold, whoever builds it (Docker's semantics): config
   * fields (compared after normalizeConfig), and files by absolute path: a
   * string is a regular file's content, an object lists the fields that
   * matter (`null`: the path must not exist).
   */
  config?: Partial<ImageConfig>;
  files?: Record<string, string | ExpectedFile | null>;
  /** buildah's outcome when it differs from "builds, same image". */
  buildah?: ToolExpectation;
  /** hutch's known differences from buildah (the lead fills these in with reasons). */
  hutch?: ToolExpectation;
}

export interface Expectations {
  /** Differences between the tools on every entry: field or path → reason. */
  always: { config: Record<string, string>; rootfs: Record<string, string> };
  entries: Record<string, EntryExpectation>;
  bad: Record<string, EntryExpectation>;
}

export interface CorpusEntry {
  name: string;
  /** The entry's directory in the checkout. */
  dir: string;
  bad: boolean;
  expect: EntryExpectation;
}

export function loadExpectations(): Expectations {
  return JSON.parse(readFileSync(join(corpusRoot, 'expectations.json'), 'utf8')) as Expectations;
}

/** Every corpus entry, good ones first, each checked against the expectations file. */
export function loadCorpus(): CorpusEntry[] {
  const expectations = loadExpectations();
  const good = readdirSync(corpusRoot, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^\d\d-/.test(d.name))
    .map((d) => d.name)
    .sort();
  const bad = readdirSync(join(corpusRoot, 'bad'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  const entries: CorpusEntry[] = [];
  for (const name of good) {
    const expect = expectations.entries[name];
    if (expect === undefined) throw new Error(`test/corpus/${name} has no entry in expectations.json`);
    entries.push({ name, dir: join(corpusRoot, name), bad: false, expect });
  }
  for (const name of bad) {
    const expect = expectations.bad[name];
    if (expect === undefined) throw new Error(`test/corpus/bad/${name} has no entry in expectations.json`);
    entries.push({ name: `bad/${name}`, dir: join(corpusRoot, 'bad', name), bad: true, expect });
  }
  for (const name of Object.keys(expectations.entries)) {
    if (!good.includes(name)) throw new Error(`expectations.json names ${name}, which test/corpus lacks`);
  }
  for (const name of Object.keys(expectations.bad)) {
    if (!bad.includes(name)) throw new Error(`expectations.json names bad/${name}, which test/corpus/bad lacks`);
  }
  return entries;
}

/**
 * A copy of the entry's context in `parent`, with its setup applied and
 * readable by everyone (the builders run as the test user). Returns the path.
 */
export function prepareContext(entry: CorpusEntry, parent: string): string {
  const dir = join(parent, entry.name.replace('/', '-'));
  rmSync(dir, { recursive: true, force: true });
  cpSync(entry.dir, dir, { recursive: true, verbatimSymlinks: true });
  const setup = entry.expect.setup ?? {};
  for (const d of setup.mkdir ?? []) mkdirSync(join(dir, d), { recursive: true });
  for (const [path, target] of Object.entries(setup.symlinks ?? {})) {
    rmSync(join(dir, path), { force: true });
    symlinkSync(target, join(dir, path));
  }
  spawnSync('chmod', ['-R', 'a+rX', dir]);
  for (const [path, mode] of Object.entries(setup.chmod ?? {})) chmodSync(join(dir, path), parseInt(mode, 8));
  return dir;
}

// ---------------------------------------------------------------------------
// Builders.

export interface BuildArgs {
  /** The Containerfile, relative to the context (default `Containerfile`). */
  file?: string;
  buildArgs?: Record<string, string>;
  target?: string;
  /** Secret id → file path. */
  secrets?: Record<string, string>;
  /** The name to give the image. */
  tag: string;
}

export interface BuildOutcome {
  ok: boolean;
  status: number | null;
  /** stdout and stderr, interleaved as they came. */
  output: string;
  /** A reference the tool's reader accepts (tag or id), when ok. */
  image?: string;
  /** How long the build took. */
  ms: number;
}

/** A builder: the signature hutch's build must offer the harness (the lead implements hutchBuild). */
export type Build = (dir: string, args: BuildArgs) => Promise<BuildOutcome>;

/** A built image, read back: the config fields compared, and the stacked root file system. */
export interface BuiltImage {
  config: ImageConfig;
  rootfs: Map<string, TreeEntry>;
}

/** A builder plus the way to read what it built. */
export interface Tool {
  name: string;
  build: Build;
  /** Writes the image as a docker-archive tar at `path`. */
  save(image: string, path: string): Promise<void>;
}

function run(
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number },
): Promise<{ status: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => {
      if (output.length < 4 << 20) output += chunk.toString('utf8');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer =
      options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', reject);
    child.once('close', (status) => {
      if (timer !== undefined) clearTimeout(timer);
      resolvePromise({ status, output });
    });
  });
}

export interface Buildah extends Tool {
  /** Runs buildah with this instance's storage. */
  run(args: string[], timeoutMs?: number): Promise<{ status: number | null; output: string }>;
  /** The environment buildah runs with (registries.conf, containers.conf of its own). */
  env: NodeJS.ProcessEnv;
  dispose(): Promise<void>;
}

/**
 * Rootless buildah with a private --root/--runroot (vfs) under a temp dir,
 * runc (crun refuses this host's hybrid cgroups), and a registries.conf that
 * sends docker.io to `mirror` (host:port, plain HTTP).
 */
export function buildah(env: NodeJS.ProcessEnv, mirror: string): Buildah {
  const base = mkdtempSync(join(tmpdir(), 'hutch-buildah-'));
  const root = join(base, 'root');
  const runroot = join(base, 'run');
  const registries = join(base, 'registries.conf');
  writeFileSync(
    registries,
    `unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"

[[registry]]
prefix = "docker.io"
location = "docker.io"

[[registry.mirror]]
location = "${mirror}"
insecure = true

[[registry]]
location = "${mirror}"
insecure = true
`,
  );
  const containersConf = join(base, 'containers.conf');
  writeFileSync(
    containersConf,
    `[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
`,
  );
  const buildahEnv: NodeJS.ProcessEnv = {
    ...env,
    CONTAINERS_REGISTRIES_CONF: registries,
    CONTAINERS_CONF: containersConf,
  };
  // buildah's own default for an unprivileged user is "rootless" isolation; "oci" fails here (netavark setns EPERM).
  delete buildahEnv.BUILDAH_ISOLATION;
  const global = ['--root', root, '--runroot', runroot, '--storage-driver', 'vfs'];
  const runBuildah = (args: string[], timeoutMs = 600_000) =>
    run('buildah', [...global, ...args], { env: buildahEnv, timeoutMs });
  return {
    name: 'buildah',
    env: buildahEnv,
    run: runBuildah,
    async build(dir, args) {
      const started = Date.now();
      const argv = ['bud', '--format', 'docker', '--tls-verify=false', '--runtime', 'runc', '-t', args.tag];
      argv.push('-f', join(dir, args.file ?? 'Containerfile'));
      for (const [k, v] of Object.entries(args.buildArgs ?? {})) argv.push('--build-arg', `${k}=${v}`);
      if (args.target !== undefined) argv.push('--target', args.target);
      for (const [id, src] of Object.entries(args.secrets ?? {})) argv.push('--secret', `id=${id},src=${src}`);
      argv.push(dir);
      const result = await runBuildah(argv);
      return {
        ok: result.status === 0,
        status: result.status,
        output: result.output,
        ms: Date.now() - started,
        ...(result.status === 0 ? { image: args.tag } : {}),
      };
    },
    async save(image, path) {
      const result = await runBuildah(['push', '--quiet', image, `docker-archive:${path}`]);
      if (result.status !== 0) throw new Error(`buildah push ${image} failed: ${result.output}`);
    },
    async dispose() {
      // vfs layers hold subordinate-id files: remove them from inside buildah's user namespace.
      await run('buildah', ['unshare', 'rm', '-rf', root, runroot], { env: buildahEnv });
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** `buildWithBuildah(dir, args)`: one build with a buildah instance. */
export function buildWithBuildah(tool: Buildah, dir: string, args: BuildArgs): Promise<BuildOutcome> {
  return tool.build(dir, args);
}

// ---------------------------------------------------------------------------
// Reading images.

/** The config fields the differential test compares (Docker's names). */
export interface ImageConfig {
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  User?: string;
  WorkingDir?: string;
  ExposedPorts?: string[];
  Labels?: Record<string, string>;
  Volumes?: string[];
  StopSignal?: string;
  Healthcheck?: Record<string, unknown>;
  OnBuild?: string[];
  Shell?: string[];
  Author?: string;
}

export const CONFIG_FIELDS = [
  'Env',
  'Cmd',
  'Entrypoint',
  'User',
  'WorkingDir',
  'ExposedPorts',
  'Labels',
  'Volumes',
  'StopSignal',
  'Healthcheck',
  'OnBuild',
  'Shell',
  'Author',
] as const;

function emptyToUndefined<T>(value: T): T | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (Array.isArray(value) && value.length === 0) return undefined;
  if (typeof value === 'object' && !Array.isArray(value) && Object.keys(value as object).length === 0) return undefined;
  return value;
}

/** An image config JSON (docker or OCI) → the compared fields; empty values are absent. */
export function normalizeConfig(image: Record<string, unknown>): ImageConfig {
  const c = (image.config ?? {}) as Record<string, unknown>;
  const keys = (v: unknown) => (v === null || v === undefined ? undefined : Object.keys(v as object).sort());
  const out: ImageConfig = {
    Env: emptyToUndefined(c.Env as string[]),
    Cmd: emptyToUndefined(c.Cmd as string[]),
    Entrypoint: emptyToUndefined(c.Entrypoint as string[]),
    User: emptyToUndefined(c.User as string),
    WorkingDir: emptyToUndefined(c.WorkingDir as string),
    ExposedPorts: emptyToUndefined(keys(c.ExposedPorts)),
    Labels: emptyToUndefined(c.Labels as Record<string, string>),
    Volumes: emptyToUndefined(keys(c.Volumes)),
    StopSignal: emptyToUndefined(c.StopSignal as string),
    Healthcheck: emptyToUndefined(c.Healthcheck as Record<string, unknown>),
    OnBuild: emptyToUndefined(c.OnBuild as string[]),
    Shell: emptyToUndefined(c.Shell as string[]),
    Author: emptyToUndefined(image.author as string),
  };
  for (const key of Object.keys(out) as (keyof ImageConfig)[]) if (out[key] === undefined) delete out[key];
  return out;
}

async function tarEntries(path: string): Promise<Map<string, { buffer: Buffer }>> {
  const files = new Map<string, { buffer: Buffer }>();
  const parser = extract();
  const feeding = pipeline(createReadStream(path), parser);
  for await (const entry of parser) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    files.set(entry.header.name.replace(/^\.\//, ''), { buffer: Buffer.concat(chunks) });
  }
  await feeding;
  return files;
}

/** A docker-archive's image: its config JSON and its layer tars (as buffers, in order). */
export async function readDockerArchive(path: string): Promise<{ config: Record<string, unknown>; layers: Buffer[] }> {
  const files = await tarEntries(path);
  const manifestFile = files.get('manifest.json');
  if (manifestFile === undefined) throw new Error(`${path}: no manifest.json (not a docker-archive)`);
  const manifest = JSON.parse(manifestFile.buffer.toString('utf8')) as { Config: string; Layers: string[] }[];
  const first = manifest[0];
  if (first === undefined) throw new Error(`${path}: empty manifest.json`);
  const config = files.get(first.Config);
  if (config === undefined) throw new Error(`${path}: config ${first.Config} missing`);
  const layers = first.Layers.map((name) => {
    const layer = files.get(name);
    if (layer === undefined) throw new Error(`${path}: layer ${name} missing`);
    return layer.buffer;
  });
  return { config: JSON.parse(config.buffer.toString('utf8')) as Record<string, unknown>, layers };
}

/** A layer blob, decompressed if it is gzip or zstd. */
function layerStream(blob: Buffer): Readable {
  const source = new PassThrough();
  source.end(blob);
  if (blob[0] === 0x1f && blob[1] === 0x8b) return source.pipe(createGunzip());
  if (blob.readUInt32LE(0) === 0xfd2fb528) {
    const zstd = spawnSync('zstd', ['-dc'], { input: blob, maxBuffer: 1 << 30 });
    if (zstd.status !== 0) throw new Error(`zstd -dc failed: ${zstd.stderr.toString()}`);
    const out = new PassThrough();
    out.end(zstd.stdout);
    return out;
  }
  return source;
}

function removeTree(tree: Map<string, TreeEntry>, path: string): void {
  tree.delete(path);
  const prefix = path === '.' ? '' : `${path}/`;
  for (const key of [...tree.keys()]) if (prefix === '' ? key !== '.' : key.startsWith(prefix)) tree.delete(key);
}

/**
 * Stacks layer tars into one tree (OCI image-spec layer.md): a `.wh.NAME`
 * deletes NAME below, `.wh..wh..opq` empties its directory below, both only
 * for the layers underneath; a non-directory replacing a directory removes
 * what was inside; hard links take their target's fields. Paths are
 * `/`-absolute (`/etc/passwd`), the root is `/`.
 */
export async function stackLayers(
  layers: readonly Buffer[],
  contents?: Map<string, Buffer>,
): Promise<Map<string, TreeEntry>> {
  const tree = new Map<string, TreeEntry>();
  tree.set('.', { type: 'd', mode: 0o755, uid: 0, gid: 0, size: 0 });
  for (const blob of layers) {
    const current = new Map<string, TreeEntry>();
    const whiteouts: string[] = [];
    const opaque: string[] = [];
    const parser = extract();
    const feeding = pipeline(layerStream(blob), parser);
    const clean = (name: string) =>
      posix.normalize(name.replace(/^\/+/, '')).replace(/\/+$/, '').replace(/^\.\//, '') || '.';
    for await (const entry of parser) {
      const h = entry.header;
      const name = clean(h.name);
      const base = posix.basename(name);
      const dir = posix.dirname(name);
      if (base === '.wh..wh..opq') {
        opaque.push(dir);
        entry.resume();
        continue;
      }
      if (base.startsWith('.wh.')) {
        if (!base.startsWith('.wh..wh.')) whiteouts.push(posix.join(dir, base.slice(4)));
        entry.resume();
        continue;
      }
      const fields = { mode: h.mode & 0o7777, uid: h.uid, gid: h.gid, size: 0 };
      if (h.type === 'file' || h.type === 'contiguous-file') {
        const hash = createHash('sha256');
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of entry) {
          hash.update(chunk as Buffer);
          size += (chunk as Buffer).length;
          if (contents !== undefined && size <= 4096) chunks.push(chunk as Buffer);
        }
        current.set(name, { ...fields, type: 'f', size, sha256: hash.digest('hex') });
        if (contents !== undefined && size <= 4096) contents.set(`/${name}`, Buffer.concat(chunks));
        continue;
      }
      entry.resume();
      if (h.type === 'directory') current.set(name, { ...fields, type: 'd' });
      else if (h.type === 'symlink') current.set(name, { ...fields, type: 'l', link: h.linkname });
      else if (h.type === 'link') {
        const targetName = clean(h.linkname ?? '');
        const target = current.get(targetName) ?? tree.get(targetName);
        if (target === undefined) throw new Error(`layer: ${name} is a hard link to ${h.linkname}, which is not there`);
        current.set(name, { ...target, hardlinkOf: targetName });
      } else if (h.type === 'character-device') current.set(name, { ...fields, type: 'c' });
      else if (h.type === 'block-device') current.set(name, { ...fields, type: 'b' });
      else if (h.type === 'fifo') current.set(name, { ...fields, type: 'p' });
    }
    await feeding;
    for (const dir of opaque) {
      const keep = tree.get(dir);
      removeTree(tree, dir);
      if (keep !== undefined) tree.set(dir, keep);
    }
    for (const path of whiteouts) removeTree(tree, path);
    for (const [name, entry] of [...current].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const below = tree.get(name);
      if (below !== undefined && below.type === 'd' && entry.type !== 'd') removeTree(tree, name);
      tree.set(name, entry);
    }
  }
  const out = new Map<string, TreeEntry>();
  for (const key of [...tree.keys()].sort()) out.set(key === '.' ? '/' : `/${key}`, tree.get(key) as TreeEntry);
  return out;
}

/**
 * Reads a built image back: `imageConfig` and `rootfsTree` in one pass over
 * a docker-archive; `contents` (if given) receives small files' bytes.
 */
export async function readImage(
  tool: Tool,
  image: string,
  scratch: string,
  contents?: Map<string, Buffer>,
): Promise<BuiltImage> {
  const path = join(scratch, `${tool.name}-${createHash('sha256').update(image).digest('hex').slice(0, 12)}.tar`);
  rmSync(path, { force: true });
  await tool.save(image, path);
  try {
    const archive = await readDockerArchive(path);
    return { config: normalizeConfig(archive.config), rootfs: await stackLayers(archive.layers, contents) };
  } finally {
    rmSync(path, { force: true });
  }
}

export async function imageConfig(tool: Tool, image: string, scratch: string): Promise<ImageConfig> {
  return (await readImage(tool, image, scratch)).config;
}

export async function rootfsTree(tool: Tool, image: string, scratch: string): Promise<Map<string, TreeEntry>> {
  return (await readImage(tool, image, scratch)).rootfs;
}

// ---------------------------------------------------------------------------
// Comparing.

export interface Difference {
  /** `config.Env`, `config.Labels.maintainer`, or a rootfs path with its field (`/etc/x mode`). */
  where: string;
  a: unknown;
  b: unknown;
}

const TREE_FIELDS = ['type', 'mode', 'uid', 'gid', 'size', 'sha256', 'link'] as const;

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Field-by-field differences between two images: each config field (Labels
 * key by key), then each path of the root file systems (type, mode, uid, gid,
 * size, content hash, link target). `ignore` holds `config.FIELD`,
 * `config.Labels.KEY` and rootfs paths (a path ignores its subtree too).
 */
export function compareImages(a: BuiltImage, b: BuiltImage, ignore: Iterable<string> = []): Difference[] {
  const skip = new Set(ignore);
  const out: Difference[] = [];
  for (const field of CONFIG_FIELDS) {
    const where = `config.${field}`;
    if (skip.has(where)) continue;
    if (field === 'Labels') {
      const la = a.config.Labels ?? {};
      const lb = b.config.Labels ?? {};
      for (const key of [...new Set([...Object.keys(la), ...Object.keys(lb)])].sort()) {
        if (skip.has(`${where}.${key}`)) continue;
        if (la[key] !== lb[key]) out.push({ where: `${where}.${key}`, a: la[key], b: lb[key] });
      }
      continue;
    }
    if (!same(a.config[field], b.config[field])) out.push({ where, a: a.config[field], b: b.config[field] });
  }
  const ignored = (path: string) => {
    for (const s of skip) {
      if (!s.startsWith('/')) continue;
      if (path === s || path.startsWith(s.endsWith('/') ? s : `${s}/`)) return true;
    }
    return false;
  };
  for (const path of [...new Set([...a.rootfs.keys(), ...b.rootfs.keys()])].sort()) {
    if (ignored(path)) continue;
    const ea = a.rootfs.get(path);
    const eb = b.rootfs.get(path);
    if (ea === undefined || eb === undefined) {
      out.push({ where: path, a: ea === undefined ? 'missing' : ea.type, b: eb === undefined ? 'missing' : eb.type });
      continue;
    }
    for (const field of TREE_FIELDS) {
      if (path === '/' && field !== 'mode' && field !== 'uid' && field !== 'gid') continue;
      if (ea[field] !== eb[field]) {
        out.push({
          where: `${path} ${field}`,
          a: field === 'mode' ? (ea[field] as number).toString(8) : ea[field],
          b: field === 'mode' ? (eb[field] as number).toString(8) : eb[field],
        });
      }
    }
  }
  return out;
}

/**
 * What an image gets wrong against an entry's expected config and files
 * (Docker's semantics); [] when it holds them all. `skip` holds the
 * `config.FIELD` and paths a tool is known to differ on.
 */
export function checkExpected(image: BuiltImage, expect: EntryExpectation, skip: Iterable<string> = []): string[] {
  const ignore = new Set(skip);
  const problems: string[] = [];
  for (const [field, want] of Object.entries(expect.config ?? {})) {
    if (ignore.has(`config.${field}`)) continue;
    const got = image.config[field as keyof ImageConfig];
    if (field === 'Labels') {
      for (const [key, value] of Object.entries(want as Record<string, string>)) {
        if (ignore.has(`config.Labels.${key}`)) continue;
        const label = image.config.Labels?.[key];
        if (label !== value)
          problems.push(`config.Labels.${key}: ${JSON.stringify(label)}, want ${JSON.stringify(value)}`);
      }
      continue;
    }
    if (!same(got, want)) problems.push(`config.${field}: ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
  for (const [path, want] of Object.entries(expect.files ?? {})) {
    if (ignore.has(path)) continue;
    const got = image.rootfs.get(path);
    if (want === null) {
      if (got !== undefined) problems.push(`${path}: present (${got.type}), want absent`);
      continue;
    }
    if (got === undefined) {
      problems.push(`${path}: missing`);
      continue;
    }
    const w: ExpectedFile = typeof want === 'string' ? { type: 'f', content: want } : want;
    if (w.content !== undefined) {
      const hash = createHash('sha256').update(w.content).digest('hex');
      if (got.type !== 'f' || got.sha256 !== hash)
        problems.push(`${path}: content differs from ${JSON.stringify(w.content)}`);
    }
    if (w.type !== undefined && got.type !== w.type) problems.push(`${path}: type ${got.type}, want ${w.type}`);
    if (w.mode !== undefined && got.mode !== parseInt(w.mode, 8)) {
      problems.push(`${path}: mode ${got.mode.toString(8).padStart(4, '0')}, want ${w.mode}`);
    }
    if (w.uid !== undefined && got.uid !== w.uid) problems.push(`${path}: uid ${got.uid}, want ${w.uid}`);
    if (w.gid !== undefined && got.gid !== w.gid) problems.push(`${path}: gid ${got.gid}, want ${w.gid}`);
    if (w.link !== undefined && got.link !== w.link) problems.push(`${path}: link ${String(got.link)}, want ${w.link}`);
  }
  return problems;
}

/** Differences as lines for a test message. */
export function formatDifferences(differences: readonly Difference[], names: [string, string], limit = 40): string {
  const lines = differences
    .slice(0, limit)
    .map((d) => `${d.where}: ${names[0]} ${JSON.stringify(d.a)}, ${names[1]} ${JSON.stringify(d.b)}`);
  if (differences.length > limit) lines.push(`… and ${differences.length - limit} more`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------
// Base images and the file server.

/**
 * An OCI image layout holding one image made of one uncompressed layer (the
 * rootfs tar), with a config like Docker Hub's busybox and debian ones (PATH,
 * a shell as Cmd). Deterministic: same tar, same digest.
 */
export function writeOciLayout(rootfsTar: string, dir: string, options: { cmd: string[]; created: string }): void {
  const layer = readFileSync(rootfsTar);
  const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (data: Buffer | string) => {
    const hex = sha(data);
    writeFileSync(join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: Buffer.byteLength(data) };
  };
  const layerBlob = put(layer);
  const config = JSON.stringify({
    created: options.created,
    architecture: process.arch === 'x64' ? 'amd64' : process.arch,
    os: 'linux',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: options.cmd },
    rootfs: { type: 'layers', diff_ids: [layerBlob.digest] },
    history: [{ created: options.created, created_by: `ADD ${posix.basename(rootfsTar)} / # hutch test fixture` }],
  });
  const configBlob = put(config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configBlob },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layerBlob }],
  });
  const manifestBlob = put(manifest);
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifestBlob }],
    }),
  );
}

/**
 * Publishes a rootfs tar as `REGISTRY/library/NAME:TAG` with skopeo (so both
 * tools pull the very same manifest). Returns the reference.
 */
export function publishImage(
  rootfsTar: string,
  registryHost: string,
  name: string,
  tag: string,
  cmd: string[],
  env: NodeJS.ProcessEnv = process.env,
): string {
  const dir = mkdtempSync(join(tmpdir(), 'hutch-oci-'));
  try {
    writeOciLayout(rootfsTar, dir, { cmd, created: '2023-11-14T22:13:20Z' });
    const reference = `${registryHost}/library/${name}:${tag}`;
    const copied = spawnSync(
      'skopeo',
      ['copy', '--quiet', '--dest-tls-verify=false', `oci:${dir}`, `docker://${reference}`],
      { env, encoding: 'utf8' },
    );
    if (copied.status !== 0) throw new Error(`skopeo copy to ${reference} failed: ${copied.stderr}`);
    return reference;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface FileServer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Paths asked for, in order. */
  requests: string[];
  stop(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 serving fixed files (ADD URL entries); 404 for anything else. */
export async function startFileServer(files: Record<string, string | Buffer>): Promise<FileServer> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').replace(/\?.*$/, '');
    requests.push(path);
    const body = files[path.replace(/^\//, '')];
    if (body === undefined) {
      res.writeHead(404).end('not found\n');
      return;
    }
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': Buffer.byteLength(body),
      'last-modified': 'Tue, 14 Nov 2023 22:13:20 GMT',
    });
    res.end(body);
  });
  await new Promise<void>((resolvePromise) => server.listen(0, '127.0.0.1', resolvePromise));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () =>
      new Promise<void>((resolvePromise) => {
        server.closeAllConnections();
        server.close(() => resolvePromise());
      }),
  };
}

/** Every file the corpus serves for ADD, from all entries' `serve` maps. */
export function servedFiles(entries: readonly CorpusEntry[]): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of entries) Object.assign(files, entry.expect.serve ?? {});
  return files;
}

/** The build arguments an entry gets: its own plus REGISTRY and BASEURL. */
export function entryBuildArgs(entry: CorpusEntry, registryHost: string, baseUrl: string): Record<string, string> {
  return { REGISTRY: registryHost, BASEURL: baseUrl, ...(entry.expect.buildArgs ?? {}) };
}

/** The args of an entry's build, for either tool. */
export function entryArgs(entry: CorpusEntry, context: string, registryHost: string, baseUrl: string): BuildArgs {
  const secrets: Record<string, string> = {};
  for (const [id, file] of Object.entries(entry.expect.secrets ?? {})) secrets[id] = join(context, file);
  return {
    tag: `localhost/corpus/${entry.name.replace('/', '-')}:latest`,
    buildArgs: entryBuildArgs(entry, registryHost, baseUrl),
    ...(entry.expect.file === undefined ? {} : { file: entry.expect.file }),
    ...(entry.expect.target === undefined ? {} : { target: entry.expect.target }),
    ...(Object.keys(secrets).length === 0 ? {} : { secrets }),
  };
}

/** The comparison's ignore list for an entry: always-differences plus both tools' recorded ones. */
export function ignoredFor(expectations: Expectations, entry: CorpusEntry): string[] {
  return [
    ...Object.keys(expectations.always.config).map((k) => `config.${k}`),
    ...Object.keys(expectations.always.rootfs),
    ...Object.keys(entry.expect.buildah?.differs ?? {}),
    ...Object.keys(entry.expect.hutch?.differs ?? {}),
  ];
}

/** Whether a file exists (for optional fixtures). */
export function present(path: string): boolean {
  return existsSync(path);
}
