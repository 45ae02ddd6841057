/**
 * `hutch build`: a Containerfile and its context to an image in the store.
 * The stage plan's waves run one after another, the stages of a wave in
 * parallel; each stage's steps run in order (stage.ts). The whole build holds
 * the store's write lock (shared), so garbage collection cannot take a layer
 * between the step that made it and the image or cache entry that names it.
 * On failure nothing is committed: what the failing step made is removed,
 * the completed steps' layers stay as cache, and everything else goes with
 * the garbage collection that follows.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getSystemErrorMap } from 'node:util';
import { HutchError, messageOf } from '../errors.js';
import { digestOf, hexOf, type Digest } from '../image/digest.js';
import { MediaType } from '../image/media.js';
import { hostPlatform, type Platform } from '../image/oci.js';
import { parsePlatform } from '../image/platform.js';
import { createProgress, progressMode } from '../image/progress.js';
import { normalizeTag } from '../image/store/refs.js';
import type { ResolvedImage } from '../image/store/resolve.js';
import type { ImageStore } from '../image/store/store.js';
import { openRuntime, type Runtime } from '../run/container/lifecycle.js';
import { resolveMounts } from '../run/container/mount-options.js';
import { reapEphemeralLeftovers } from '../run/container/ephemeral.js';
import { checkEnforceable, defaultLimits } from '../run/cgroups/index.js';
import { currentRequestHost, parseNetworkRequest } from '../run/network/index.js';
import { currentLimits, resolveUlimits } from '../run/rlimits.js';
import { selectRootfsDriver, storageDriverOf } from '../run/rootfs/probe.js';
import { BuildCache } from './cache.js';
import { loadContainerfiles } from './containerfile/instruction-parser.js';
import type { Containerfile } from './containerfile/instructions.js';
import { GlobalScope } from './containerfile/scope.js';
import { planStages } from './containerfile/stages.js';
import { BuildContext } from './context.js';
import { FileHashIndex } from './hash-index.js';
import { readBuildInputs, type BuildInputs } from './inputs.js';
import type { BuildOptions } from './options.js';
import { BuildOutput } from './output.js';
import type { BuildSession, StageResult } from './build-session.js';
import { readSecrets } from './secrets.js';
import { squashState } from './squash.js';
import { shortStepId, StageBuilder, stageLabel } from './stage.js';
import { interrupted } from './steps/step.js';
import { imageConfigOf, sha256, type ImageState } from './state.js';

/** The image (manifest, config) of the final state, written and named; returns its id. */
async function commitBuiltImage(
  store: ImageStore,
  state: ImageState,
  options: BuildOptions,
  created: string,
  env: NodeJS.ProcessEnv,
): Promise<Digest> {
  const config = imageConfigOf(state, created);
  if (Object.keys(options.labels).length > 0) {
    config.config = { ...config.config, Labels: { ...config.config?.Labels, ...options.labels } };
  }
  if (options.env.length + options.unsetEnv.length > 0) {
    config.config = { ...config.config, Env: imageEnv(config.config?.Env ?? [], options, env) };
  }
  const docker = options.format === 'docker';
  const configBody = Buffer.from(JSON.stringify(config));
  const configBlob = await store.blobs.write(configBody);
  const manifest = {
    schemaVersion: 2 as const,
    mediaType: docker ? MediaType.dockerManifest : MediaType.ociManifest,
    config: {
      mediaType: docker ? MediaType.dockerConfig : MediaType.ociConfig,
      digest: configBlob.digest,
      size: configBlob.size,
    },
    layers: state.layers.map((l) => ({
      mediaType: docker ? MediaType.dockerLayerGzip : l.blob.mediaType,
      digest: l.blob.digest,
      size: l.blob.size,
    })),
  };
  const body = Buffer.from(JSON.stringify(manifest));
  const descriptor = { mediaType: manifest.mediaType, digest: digestOf(body), size: body.length };
  let id: Digest | undefined;
  if (options.tags.length === 0) id = await store.commitImage(undefined, { descriptor, body });
  for (const tag of options.tags) id = await store.commitImage(tag, { descriptor, body });
  return id as Digest;
}

/**
 * The final image's environment with --env (NAME=VALUE; NAME alone takes its
 * value here; NAME- removes it) and --unsetenv applied: they win over the
 * Containerfile's ENV, and RUN steps never see them (buildah's rule).
 */
export function imageEnv(
  base: readonly string[],
  options: Pick<BuildOptions, 'env' | 'unsetEnv'>,
  env: NodeJS.ProcessEnv,
): string[] {
  const entries = new Map<string, string>();
  for (const e of base) {
    const eq = e.indexOf('=');
    entries.set(eq < 0 ? e : e.slice(0, eq), eq < 0 ? '' : e.slice(eq + 1));
  }
  for (const e of options.env) {
    const eq = e.indexOf('=');
    if (eq > 0) entries.set(e.slice(0, eq), e.slice(eq + 1));
    else if (eq < 0 && e.endsWith('-')) entries.delete(e.slice(0, -1));
    else if (eq < 0) entries.set(e, env[e] ?? '');
    else throw new HutchError(`invalid --env ${JSON.stringify(e)}`, { hint: 'write --env NAME=VALUE' });
  }
  for (const name of options.unsetEnv) entries.delete(name);
  return [...entries].map(([k, v]) => `${k}=${v}`);
}

/** podman checks --authfile before anything else: `checking authfile: stat PATH: no such file or directory`. */
function checkAuthFile(path: string): void {
  try {
    statSync(path);
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException).errno;
    const reason = (errno === undefined ? undefined : getSystemErrorMap().get(errno)?.[1]) ?? messageOf(error);
    throw new HutchError(`checking authfile: stat ${path}: ${reason}`, {
      hint: 'give the auth file hutch login wrote (or leave --authfile out)',
    });
  }
}

export async function buildImage(options: BuildOptions, env: NodeJS.ProcessEnv = process.env): Promise<Digest> {
  for (const tag of options.tags) normalizeTag(tag);
  if (options.authFile !== undefined) checkAuthFile(options.authFile);
  // The session may replace this process (execve) first: standard input is read after it.
  const runtime = await openRuntime(env);
  const inputs = await readBuildInputs({
    contextDir: options.contextDir,
    files: options.files,
    stdin: options.stdin,
    tmpDir: runtime.images.tmpDir,
    userXattrs: !runtime.identity.root,
    storageDir: runtime.paths.storage,
    env,
  });
  try {
    return await buildFrom(inputs, runtime, options, env);
  } finally {
    inputs.release();
  }
}

async function buildFrom(
  inputs: BuildInputs,
  runtime: Runtime,
  options: BuildOptions,
  env: NodeJS.ProcessEnv,
): Promise<Digest> {
  const cf: Containerfile = loadContainerfiles(inputs.containerfiles.map((c) => ({ text: c.text, file: c.name })));
  const first = inputs.containerfiles[0]?.path;
  const context = await BuildContext.open(inputs.contextDir, {
    ...(first === undefined ? {} : { containerfile: first }),
    ...(options.ignoreFile === undefined ? {} : { ignoreFile: options.ignoreFile }),
  });
  const host = hostPlatform();
  const target: Platform = options.platform === undefined ? host : parsePlatform(options.platform);
  const global = new GlobalScope(options.buildArgs, { build: host, target });
  const secrets = readSecrets(options.secrets, env);
  const plan = planStages(cf, global, options.target === undefined ? {} : { target: options.target });
  const driver = await selectRootfsDriver(
    {
      identity: runtime.identity,
      storage: runtime.paths.storage,
      pathVar: env.PATH,
      runtime: runtime.paths.runtime,
      storageDriver: storageDriverOf(env.HUTCH_STORAGE_DRIVER),
    },
    // Before the build's output starts: a plain line on the caller's stderr.
    { onWarning: (message) => options.stderr.write(`warning: ${message}\n`) },
  );
  if (driver.name === 'copy') {
    throw new HutchError(
      'hutch build needs overlayfs or fuse-overlayfs: the copy driver keeps no upper directory to make layers from',
      {
        hint: 'hutch info says why neither overlay driver works here',
      },
    );
  }
  // A limit the host cannot enforce fails the build before any step, as podman build does.
  checkEnforceable(options.limits);
  const ulimits = resolveUlimits(options.ulimits, currentLimits(), runtime.identity.root);
  const network = parseNetworkRequest(
    { ...options.network, publish: [], publishAll: false },
    [],
    currentRequestHost({ storage: runtime.paths.storage }),
  );
  const store = runtime.images;
  const volumes = (await resolveMounts(options.volumes, runtime.paths.storage)).mounts;
  // --no-cache trusts nothing from earlier builds, not even the context's file hashes.
  const hashIndex = options.noCache
    ? undefined
    : FileHashIndex.load(join(store.buildCacheDir, 'file-hashes'), context.root);
  if (hashIndex !== undefined) context.useHashIndex(hashIndex);
  const runtimeRoot = join(runtime.paths.runtime, 'build');
  mkdirSync(runtimeRoot, { recursive: true, mode: 0o700 });
  // What the RUN containers of killed builds left (their processes died with those builds).
  await reapEphemeralLeftovers(runtimeRoot);
  const mode = progressMode(options.stdout, options.quiet, env);
  const output = new BuildOutput(options.stdout, options.stderr, mode);
  const fixed = options.timestamp?.toISOString();
  const pulled = new Map<string, Promise<ResolvedImage>>();
  const remoteCache =
    options.cacheFrom.length + options.cacheTo.length === 0
      ? undefined
      : new (await import('./remote-cache.js')).RemoteCache(
          store,
          {
            from: options.cacheFrom,
            to: options.cacheTo,
            access: { tlsVerify: options.tlsVerify, credentials: options.credentials, authFile: options.authFile },
            platform: target,
            rootless: !runtime.identity.root,
            warn: (text) => output.warn(text),
          },
          env,
        );
  const session: BuildSession = {
    store,
    driver,
    rootless: !runtime.identity.root,
    runtimeRoot,
    paths: { storage: runtime.paths.storage, runtime: runtime.paths.runtime },
    network,
    secrets,
    context,
    cf,
    plan,
    global,
    // Every RUN step gets podman's default pids limit where a cgroup can hold it.
    options: { ...options, limits: defaultLimits(options.limits) },
    ulimits,
    volumes,
    cache: new BuildCache(store),
    remoteCache,
    output,
    targetPlatform: target,
    salt: sha256(`timestamp ${fixed ?? ''}`),
    results: new Map(),
    signal: new AbortController().signal,
    created: () => fixed ?? new Date().toISOString(),
    image: (reference, platform) => {
      const key = `${reference}\n${platform ?? options.platform ?? ''}`;
      let found = pulled.get(key);
      if (found === undefined) {
        found = baseImage(store, reference, platform ?? options.platform, options, output, env);
        pulled.set(key, found);
      }
      return found;
    },
  };

  // An interrupt kills the running RUN steps and lets the build unwind (workspaces unmounted and
  // removed, nothing committed) instead of leaving their containers and mounts behind.
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  session.signal = abort.signal;
  const release = await store.writeLock();
  try {
    for (const wave of plan.waves) {
      const builds = wave.map((index) => {
        const result = new StageBuilder(session, cf.stages[index] as (typeof cf.stages)[number]).build();
        session.results.set(index, result);
        return result;
      });
      // Every stage of the wave finishes (or fails) before the build reports: none is left running.
      const settled = await Promise.allSettled(builds);
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (abort.signal.aborted) throw interrupted();
      if (failed !== undefined) throw failed.reason;
    }
    let last = await (session.results.get(plan.target) as Promise<StageResult>);
    // Without --layers the build's new layers are one, as buildah commits its working container once.
    const squash = options.squash === 'none' && !options.layers ? 'new' : options.squash;
    if (squash !== 'none') last = { state: await squashState(session, last.state, squash === 'all') };
    const label = stageLabel(session, plan.target);
    output.note(
      `${label === undefined ? '' : `[${label}] `}COMMIT${options.tags.length > 0 ? ` ${options.tags[0]}` : ''}`,
    );
    // The last step's time: a build whose every step was cached makes the same image again.
    const created = last.state.history.at(-1)?.created ?? session.created();
    const id = await commitBuiltImage(store, last.state, options, created, env);
    output.done(undefined, shortStepId(hexOf(id)));
    // buildah names every name the image has: the tags given, then those it had already.
    const tagged = options.tags.map((tag) => normalizeTag(tag));
    for (const name of namesOf(store, id)) if (!tagged.includes(name)) tagged.push(name);
    for (const name of tagged) output.note(`Successfully tagged ${name}`);
    const unused = global.unconsumed();
    if (unused.length > 0) output.warn(`one or more build args were not consumed: [${unused.join(' ')}]`);
    if (options.iidfile !== undefined) writeFileSync(options.iidfile, id);
    if (remoteCache?.exporting === true) {
      await remoteCache.flush();
      output.note(`Cache stored in ${options.cacheTo.join(' ')}`);
    }
    return id;
  } finally {
    output.close();
    hashIndex?.save();
    await remoteCache?.close({ interrupted: abort.signal.aborted });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    release();
    // Opportunistic: a collection that cannot run now (another writer holds the
    // store, a part of it cannot be read) is left to a later command.
    await store.collectGarbage({ wait: false }).catch(() => undefined);
  }
}

/** The names the image has now; none when a concurrent command took them (or the image) away meanwhile. */
function namesOf(store: ImageStore, id: Digest): string[] {
  try {
    return store.resolveImage(id).names;
  } catch {
    return [];
  }
}

async function baseImage(
  store: ImageStore,
  reference: string,
  platform: string | undefined,
  options: BuildOptions,
  output: BuildOutput,
  env: NodeJS.ProcessEnv,
): Promise<ResolvedImage> {
  const wanted = platform === undefined ? undefined : parsePlatform(platform);
  const find = (): ResolvedImage | undefined => {
    try {
      const image = store.resolveImage(reference);
      if (wanted !== undefined && (image.config.architecture !== wanted.architecture || image.config.os !== wanted.os))
        return undefined;
      return image;
    } catch (error) {
      if (/image not known/.test(messageOf(error))) return undefined;
      throw error;
    }
  };
  const stored = options.pull === 'always' ? undefined : find();
  if (stored !== undefined) return stored;
  if (options.pull === 'never') {
    throw new HutchError(`${reference}: image not known`, {
      hint: `pull it first (hutch pull ${reference}) or drop --pull=never`,
    });
  }
  const { pullImage } = await import('../image/pull.js');
  const result = await pullImage(
    {
      reference,
      tlsVerify: options.tlsVerify,
      credentials: options.credentials,
      authFile: options.authFile,
      platform,
      // Under the build's live view a pull prints plain lines, which scroll above it.
      progress: output.live
        ? createProgress('plain', output.progressStream)
        : createProgress(options.quiet ? 'quiet' : progressMode(options.stderr, false, env), options.stderr),
    },
    env,
  );
  return store.resolveImage(result.id);
}
