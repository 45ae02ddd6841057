/**
 * One stage of a build: its base (scratch, an image, an earlier stage), the
 * ONBUILD triggers of that base, then each instruction in order. Config-only
 * steps change the image config and add an `empty_layer` history entry; RUN,
 * COPY, ADD and a WORKDIR that creates its directory commit a layer, or reuse
 * the one the cache has for the same key.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { HutchError, messageOf } from '../errors.js';
import type { Position } from './containerfile/ast.js';
import { StageScope } from './containerfile/expand.js';
import {
  DEFAULT_SHELL,
  isGitUrl,
  isHttpUrl,
  parseTrigger,
  resolveInstruction,
  resolveWorkdir,
  runArgs,
  commandArgs,
  type AddInstruction,
  type CopyInstruction,
  type Instruction,
  type ResolvedInstruction,
  type Stage,
} from './containerfile/instructions.js';
import { BuildfileError } from './containerfile/parser.js';
import { BuildContext, checkDestination, type CopySource, type SourceRef } from './context.js';
import { copyCreatedBy, nopCreatedBy, runCreatedBy } from './history.js';
import type { CacheEntry } from './cache.js';
import { imageKey, type BuildSession, type StageResult } from './build-session.js';
import { cloneState, scratchState, sha256, stateOfImage, type ImageState, type LayerRef } from './state.js';
import { archiveKind, ChecksumError, download, unpackArchive } from './steps/add.js';
import { copyIntoRoot, type CopyItem, type Owner } from './steps/copy.js';
import { mountPointsOf, prepareRunMounts, type PreparedMounts } from './steps/run-mounts.js';
import { layerPaths, MOUNT_POINTS, readLayeredFile, StepWorkspace } from './workspace.js';
import { ensureInRoot, hostJoin, realRoot } from '../fs/in-root.js';
import { runEphemeral } from '../run/container/ephemeral.js';
import { DEFAULT_PATH } from '../run/container/spec-builder.js';
import type { MountSpec } from '../run/container/spec.js';
import type { NetworkRequest } from '../run/network/index.js';
import { rlimitSpecs } from '../run/rlimits.js';
import { resolveUser, type ResolvedUser } from '../run/container/user.js';
import { lchownSync, writeFileSync } from 'node:fs';

type Resolved<K extends ResolvedInstruction['kind']> = Extract<ResolvedInstruction, { kind: K }>;

/** An instruction's resolved form as text for a cache key: positions and the syntax node left out. */
function describe(resolved: ResolvedInstruction): string {
  return JSON.stringify(resolved, (key, value: unknown) =>
    key === 'node' || key === 'position' || key === 'bodyLine' || key === 'spec' ? undefined : value,
  );
}

export class StageBuilder {
  private state!: ImageState;
  private scope!: StageScope;
  /** CMD set in this stage: an ENTRYPOINT then keeps it (otherwise it clears the base's). */
  private cmdSet = false;
  private readonly label: string | undefined;
  private stepNumber = 0;
  private stepCount = 0;

  constructor(
    private readonly session: BuildSession,
    private readonly stage: Stage,
  ) {
    const many = session.plan.needed.length > 1;
    this.label = many ? (stage.name ?? `${stage.index + 1}/${session.cf.stages.length}`) : undefined;
  }

  private get file(): string {
    return this.session.cf.file;
  }

  async build(): Promise<StageResult> {
    const { session, stage } = this;
    const base = session.plan.bases[stage.index];
    if (base === undefined) throw new Error(`no base for stage ${stage.index}`);
    let state: ImageState;
    if (base.kind === 'scratch') state = scratchState(session.targetPlatform, session.salt);
    else if (base.kind === 'stage') {
      const result = session.results.get(base.index);
      if (result === undefined) throw new Error(`stage ${base.index} was not scheduled before stage ${stage.index}`);
      state = cloneState((await result).state);
    } else {
      const image = await this.withPosition(stage.from.image.position, () =>
        session.image(base.reference, base.platform),
      );
      state = stateOfImage(image, session.salt);
    }
    // BuildKit's rule: a stage whose base sets no PATH gets the default one.
    if (!(state.runtime.Env ?? []).some((e) => e.startsWith('PATH='))) {
      state.runtime.Env = [`PATH=${DEFAULT_PATH}`, ...(state.runtime.Env ?? [])];
    }
    state.baseLayers = state.layers.length;
    this.state = state;
    this.scope = new StageScope(session.global, state.runtime.Env ?? []);
    const triggers = (state.runtime.OnBuild ?? []).map((expression) => {
      try {
        return parseTrigger(expression, {
          file: `${this.file} (ONBUILD of the base image)`,
          escape: session.cf.escape,
        });
      } catch (error) {
        throw new BuildfileError(
          this.file,
          stage.from.node.position,
          `ONBUILD trigger ${expression}: ${messageOf(error)}`,
        );
      }
    });
    // The triggers run here, once; the new image does not pass them on.
    delete state.runtime.OnBuild;
    const steps: { instruction: Instruction; trigger: boolean }[] = [
      ...triggers.map((instruction) => ({ instruction, trigger: true })),
      ...stage.instructions.map((instruction) => ({ instruction, trigger: false })),
    ];
    this.stepCount = steps.length + 1;
    this.announce(stage.from.node.original);
    session.output.done(
      this.label,
      base.kind === 'image' ? base.reference : base.kind === 'scratch' ? 'scratch' : `stage ${base.index}`,
    );
    for (const { instruction, trigger } of steps) {
      if (session.signal.aborted) throw interrupted();
      this.announce(trigger ? `${instruction.node.original} (ONBUILD)` : instruction.node.original);
      if (trigger && instruction.kind === 'COPY' && instruction.from !== undefined) {
        throw new BuildfileError(this.file, stage.from.node.position, 'an ONBUILD COPY --from is not supported');
      }
      const resolved = resolveInstruction(session.cf, instruction, this.scope);
      await this.dispatch(resolved, instruction);
    }
    return { state: this.state };
  }

  private announce(text: string): void {
    this.stepNumber++;
    this.session.output.step(this.label, this.stepNumber, this.stepCount, text);
  }

  private async withPosition<T>(position: Position, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof BuildfileError) throw error;
      const hint = error instanceof HutchError ? error.hint : undefined;
      throw new BuildfileError(this.file, position, messageOf(error), {
        cause: error,
        ...(hint === undefined ? {} : { hint }),
        ...(error instanceof HutchError ? { exitCode: error.exitCode } : {}),
      });
    }
  }

  private get lowers(): string[] {
    return layerPaths(this.session.store, this.state.layers);
  }

  /** The cache entry of a step, unless --no-cache: the local cache's, else a --cache-from repository's. */
  private async cached(key: string): Promise<CacheEntry | undefined> {
    const { session } = this;
    if (session.options.noCache) return undefined;
    const local = session.cache.lookup(key);
    if (local !== undefined || session.remoteCache === undefined) return local;
    const remote = await session.remoteCache.lookup(key);
    if (remote !== undefined) session.cache.record(key, remote);
    return remote;
  }

  /**
   * A step is done: its layer (if it made one) and history entry added, the
   * chain key moved on to its key. A new step is recorded in the cache; a
   * cached one keeps the time it was first made.
   */
  private finishStep(key: string, createdBy: string, layer: LayerRef | undefined, hit: CacheEntry | undefined): void {
    const created = hit?.created ?? this.session.created();
    if (hit === undefined) this.session.cache.record(key, { layer, created });
    this.session.remoteCache?.export(key, { layer, created });
    if (layer !== undefined) this.state.layers.push(layer);
    this.state.history.push({ created, created_by: createdBy, ...(layer === undefined ? { empty_layer: true } : {}) });
    this.state.chainKey = key;
    const what = hit !== undefined ? `Using cache ${key}` : layer === undefined ? 'config' : layer.diffId.slice(7, 19);
    this.session.output.done(this.label, what);
  }

  /** A config-only step: a history entry without a layer. */
  private async configStep(resolved: ResolvedInstruction, createdBy: string): Promise<void> {
    const key = sha256(`${this.state.chainKey}\n${describe(resolved)}`);
    this.finishStep(key, createdBy, undefined, await this.cached(key));
  }

  private async dispatch(resolved: ResolvedInstruction, instruction: Instruction): Promise<void> {
    const runtime = this.state.runtime;
    const text = instruction.node.original.replace(/^\s*\S+\s*/, '');
    switch (resolved.kind) {
      case 'ENV':
        for (const { key, value } of resolved.pairs) this.scope.setEnv(key, value);
        runtime.Env = this.scope.env();
        return this.configStep(
          resolved,
          nopCreatedBy(`ENV ${resolved.pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`),
        );
      case 'ARG':
        this.state.chainKey = sha256(`${this.state.chainKey}\n${describe(resolved)}`);
        this.session.output.done(this.label, 'config');
        return;
      case 'LABEL':
        runtime.Labels = { ...runtime.Labels };
        for (const { key, value } of resolved.pairs) runtime.Labels[key] = value;
        return this.configStep(
          resolved,
          nopCreatedBy(`LABEL ${resolved.pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`),
        );
      case 'USER':
        runtime.User = resolved.user;
        return this.configStep(resolved, nopCreatedBy(`USER ${resolved.user}`));
      case 'STOPSIGNAL':
        runtime.StopSignal = resolved.signal;
        return this.configStep(resolved, nopCreatedBy(`STOPSIGNAL ${resolved.signal}`));
      case 'EXPOSE':
        runtime.ExposedPorts = { ...runtime.ExposedPorts };
        for (const port of resolved.ports) runtime.ExposedPorts[port] = {};
        return this.configStep(resolved, nopCreatedBy(`EXPOSE ${resolved.ports.join(' ')}`));
      case 'VOLUME':
        runtime.Volumes = { ...runtime.Volumes };
        for (const path of resolved.paths) runtime.Volumes[path] = {};
        return this.configStep(
          resolved,
          nopCreatedBy(`VOLUME [${resolved.paths.map((p) => JSON.stringify(p)).join(' ')}]`),
        );
      case 'CMD': {
        runtime.Cmd = commandArgs(resolved.command, runtime.Shell ?? DEFAULT_SHELL);
        this.cmdSet = true;
        return this.configStep(resolved, nopCreatedBy(`CMD ${JSON.stringify(runtime.Cmd)}`));
      }
      case 'ENTRYPOINT': {
        runtime.Entrypoint = commandArgs(resolved.command, runtime.Shell ?? DEFAULT_SHELL);
        // Docker's rule: an ENTRYPOINT clears a CMD inherited from the base.
        if (!this.cmdSet) delete runtime.Cmd;
        return this.configStep(resolved, nopCreatedBy(`ENTRYPOINT ${JSON.stringify(runtime.Entrypoint)}`));
      }
      case 'SHELL':
        runtime.Shell = resolved.shell;
        return this.configStep(resolved, nopCreatedBy(`SHELL ${JSON.stringify(resolved.shell)}`));
      case 'HEALTHCHECK': {
        const h = resolved.healthcheck;
        runtime.Healthcheck = {
          Test: h.test,
          ...(h.interval === undefined ? {} : { Interval: h.interval }),
          ...(h.timeout === undefined ? {} : { Timeout: h.timeout }),
          ...(h.startPeriod === undefined ? {} : { StartPeriod: h.startPeriod }),
          ...(h.startInterval === undefined ? {} : { StartInterval: h.startInterval }),
          ...(h.retries === undefined ? {} : { Retries: h.retries }),
        };
        return this.configStep(resolved, nopCreatedBy(`HEALTHCHECK ${text}`));
      }
      case 'ONBUILD':
        runtime.OnBuild = [...(runtime.OnBuild ?? []), resolved.expression];
        return this.configStep(resolved, nopCreatedBy(`ONBUILD ${resolved.expression}`));
      case 'MAINTAINER':
        this.state.author = resolved.maintainer;
        return this.configStep(resolved, nopCreatedBy(`MAINTAINER ${resolved.maintainer}`));
      case 'WORKDIR':
        return this.workdir(resolved);
      case 'RUN':
        return this.run(resolved);
      case 'COPY':
      case 'ADD':
        return this.copy(resolved, instruction as CopyInstruction | AddInstruction);
    }
  }

  /** The image's /etc/passwd and /etc/group as they are now. */
  private accountFiles(): { passwd: string | null; group: string | null } {
    const lowers = this.lowers;
    return { passwd: readLayeredFile(lowers, 'etc/passwd'), group: readLayeredFile(lowers, 'etc/group') };
  }

  private user(position: Position): ResolvedUser {
    try {
      return resolveUser(this.state.runtime.User, this.accountFiles(), []);
    } catch (error) {
      throw new BuildfileError(this.file, position, messageOf(error), {
        hint: 'create the user in an earlier RUN step, or give a numeric USER uid[:gid]',
      });
    }
  }

  // -------------------------------------------------------------------------
  // WORKDIR: the directory is made (owned by the USER, as BuildKit makes it) when missing.

  private async workdir(resolved: Resolved<'WORKDIR'>): Promise<void> {
    const { session } = this;
    const path = resolveWorkdir(this.state.runtime.WorkingDir ?? '/', resolved.path);
    this.state.runtime.WorkingDir = path;
    const user = this.state.runtime.User ?? '';
    const key = sha256(`${this.state.chainKey}\nWORKDIR\n${path}\n${user}`);
    const createdBy = nopCreatedBy(`WORKDIR ${path}`);
    const hit = await this.cached(key);
    if (hit !== undefined) return this.finishStep(key, createdBy, hit.layer, hit);
    const owner = this.user(resolved.node.position);
    const workspace = StepWorkspace.create(session.store, session.driver, session.rootless, this.lowers);
    try {
      const root = await workspace.mount();
      let created: string[];
      try {
        created = ensureInRoot(root, path, 'directory', { what: `WORKDIR ${path}` }).created;
      } catch (error) {
        throw new BuildfileError(this.file, resolved.node.position, messageOf(error));
      }
      const real = realRoot(root);
      for (const dir of created) lchownSync(hostJoin(real, dir), owner.uid, owner.gid);
      await workspace.unmount();
      if (created.length === 0) return this.finishStep(key, createdBy, undefined, undefined);
      const layer = await workspace.commit(session.store, session.options.timestamp);
      this.finishStep(key, createdBy, { diffId: layer.diffId, blob: layer.blob }, undefined);
    } finally {
      await workspace.dispose();
    }
  }

  // -------------------------------------------------------------------------
  // RUN

  /** RUN --network=none|host, else the build's network. */
  private network(resolved: Resolved<'RUN'>): NetworkRequest {
    const wanted = resolved.network;
    if (wanted === undefined || wanted === 'default') return this.session.network;
    return { ...this.session.network, mode: wanted, options: {}, pastaArgs: [] };
  }

  private async run(resolved: Resolved<'RUN'>): Promise<void> {
    const { session } = this;
    const position = resolved.node.position;
    if (resolved.security === 'insecure') {
      throw new BuildfileError(
        this.file,
        position,
        'RUN --security=insecure is not supported: build steps never get extra privileges',
      );
    }
    const runtime = this.state.runtime;
    const shell = runtime.Shell ?? DEFAULT_SHELL;
    const { args, file: script } = runArgs(resolved, shell);
    const user = this.user(position);
    const env = this.scope.runEnv();
    if (!env.some((e) => e.startsWith('PATH='))) env.unshift(`PATH=${DEFAULT_PATH}`);
    if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home}`);
    const cwd = runtime.WorkingDir || '/';
    const network = this.network(resolved);
    const createdBy = runCreatedBy(
      args,
      this.scope.declaredArgs().filter(([k]) => !this.scope.env().some((e) => e.startsWith(`${k}=`))),
    );
    const workspace = StepWorkspace.create(session.store, session.driver, session.rootless, this.lowers);
    const trees: StepWorkspace[] = [];
    let prepared: PreparedMounts | undefined;
    try {
      prepared = await prepareRunMounts(resolved.mounts, {
        file: this.file,
        position,
        context: session.context,
        storage: session.paths.storage,
        secrets: session.secrets,
        scratch: workspace.dir,
        tree: async (from) => {
          const found = await this.fromSource(from, position);
          const tree = StepWorkspace.create(
            session.store,
            session.driver,
            session.rootless,
            layerPaths(session.store, found.layers),
          );
          trees.push(tree);
          return { root: await tree.mount({ readonly: true }), key: found.key };
        },
      });
      // Secrets are not part of the key (BuildKit's rule); what bind mounts read is.
      const key = sha256(
        [
          this.state.chainKey,
          'RUN',
          describe(resolved),
          JSON.stringify(env),
          runtime.User ?? '',
          cwd,
          JSON.stringify(shell),
          network.mode,
          ...prepared.keyParts,
        ].join('\n'),
      );
      const hit = await this.cached(key);
      if (hit?.layer !== undefined) return this.finishStep(key, createdBy, hit.layer, hit);
      const mounts: MountSpec[] = [...prepared.specs];
      if (script !== undefined) {
        const host = join(workspace.dir, 'script');
        writeFileSync(host, script.content, { mode: script.mode });
        mounts.push({
          type: 'bind',
          source: host,
          destination: script.path,
          readonly: true,
          recursive: false,
          options: [],
        });
      }
      let status: number;
      try {
        status = await runEphemeral({
          id: randomBytes(32).toString('hex'),
          driver: session.driver,
          layout: workspace.layout,
          rootless: session.rootless,
          runtimeRoot: session.runtimeRoot,
          hostname: 'hutch-build',
          args,
          env: [...env, ...prepared.env],
          cwd,
          uid: user.uid,
          gid: user.gid,
          // The primary group is in the supplementary list too, as Docker's and buildah's runtimes set it.
          additionalGids: [user.gid, ...user.additionalGids.filter((g) => g !== user.gid)],
          mounts,
          network,
          limits: session.options.limits,
          rlimits: rlimitSpecs(session.ulimits),
          paths: session.paths,
          stdout: session.output.runStdout,
          stderr: session.output.runStderr,
          signal: session.signal,
        });
      } catch (error) {
        throw new BuildfileError(this.file, position, `RUN: ${messageOf(error)}`, {
          cause: error,
          ...(error instanceof HutchError
            ? { exitCode: error.exitCode, ...(error.hint === undefined ? {} : { hint: error.hint }) }
            : {}),
        });
      }
      if (session.signal.aborted) throw interrupted();
      if (status !== 0) {
        const summary = args.join(' ').replace(/\s+/g, ' ');
        throw new BuildfileError(
          this.file,
          position,
          `RUN ${summary.length > 80 ? `${summary.slice(0, 77)}...` : summary}: exit status ${status}`,
          { exitCode: status },
        );
      }
      const mountPoints = [...MOUNT_POINTS, ...mountPointsOf(mounts)];
      workspace.removeMountPoints(mountPoints);
      const layer = await workspace.commit(session.store, session.options.timestamp, mountPoints);
      this.finishStep(key, createdBy, { diffId: layer.diffId, blob: layer.blob }, undefined);
    } finally {
      prepared?.release();
      for (const tree of trees) await tree.dispose();
      await workspace.dispose();
    }
  }

  // -------------------------------------------------------------------------
  // COPY and ADD

  private parseChown(spec: string, position: Position): Owner {
    const [userPart = '', groupPart] = spec.split(':', 2);
    const files = this.accountFiles();
    const fail = (what: string): never => {
      throw new BuildfileError(
        this.file,
        position,
        `--chown=${spec}: no ${what} in the image's /etc/${what === 'user' ? 'passwd' : 'group'}`,
        {
          hint: 'create it in an earlier step, or give numeric ids (--chown=1000:1000)',
        },
      );
    };
    let uid: number;
    if (/^\d+$/.test(userPart)) uid = Number(userPart);
    else {
      const line = (files.passwd ?? '').split('\n').find((l) => l.split(':')[0] === userPart);
      if (line === undefined) fail('user');
      uid = Number((line as string).split(':')[2]);
    }
    if (groupPart === undefined || groupPart === '') return { uid, gid: uid };
    if (/^\d+$/.test(groupPart)) return { uid, gid: Number(groupPart) };
    const line = (files.group ?? '').split('\n').find((l) => l.split(':')[0] === groupPart);
    if (line === undefined) fail('group');
    return { uid, gid: Number((line as string).split(':')[2]) };
  }

  private async copy(
    resolved: Resolved<'COPY'> | Resolved<'ADD'>,
    instruction: CopyInstruction | AddInstruction,
  ): Promise<void> {
    const { session } = this;
    const kind = resolved.kind;
    const position = resolved.node.position;
    const refs: SourceRef[] = resolved.sources.map((source, i) => ({
      source,
      position: instruction.sources[i]?.position ?? position,
    }));
    if (kind === 'COPY' && resolved.parents) {
      throw new BuildfileError(this.file, position, 'COPY --parents is not supported by hutch build');
    }
    const urls = refs.filter((r) => kind === 'ADD' && isHttpUrl(r.source));
    for (const ref of refs) {
      if (kind === 'ADD' && isGitUrl(ref.source)) {
        throw new BuildfileError(
          this.file,
          ref.position,
          `ADD ${ref.source}: adding a git repository is not supported by hutch build`,
          {
            hint: 'clone it into the context and COPY it',
          },
        );
      }
    }
    const checksum = kind === 'ADD' ? resolved.checksum : undefined;
    if (checksum !== undefined && urls.length !== refs.length) {
      throw new BuildfileError(this.file, position, 'ADD --checksum can only be used with http(s) sources');
    }
    if (resolved.chmod !== undefined && !/^[0-7]+$/.test(resolved.chmod)) {
      throw new BuildfileError(
        this.file,
        position,
        `--chmod=${resolved.chmod}: symbolic modes are not supported by hutch build`,
        {
          hint: 'give an octal mode, e.g. --chmod=0755',
        },
      );
    }
    const from = kind === 'COPY' ? resolved.from : undefined;
    const locals = refs.filter((r) => !urls.includes(r));
    const workspace = StepWorkspace.create(
      session.store,
      session.driver,
      session.rootless,
      resolved.link ? [] : this.lowers,
    );
    let source: StepWorkspace | undefined;
    try {
      let tree: BuildContext = session.context;
      let fromKey = '';
      if (from !== undefined) {
        const found = await this.fromSource(from, (instruction as CopyInstruction).from?.position ?? position);
        fromKey = found.key;
        source = StepWorkspace.create(
          session.store,
          session.driver,
          session.rootless,
          layerPaths(session.store, found.layers),
        );
        tree = await BuildContext.openTree(await source.mount({ readonly: true }));
      }
      const sources: CopySource[] =
        locals.length === 0
          ? []
          : await tree.resolveSources(locals, {
              file: this.file,
              instruction: kind,
              excludes: resolved.excludes,
              wildcards: true,
            });
      checkDestination(
        this.file,
        kind,
        sources,
        { text: resolved.dest, position: instruction.dest.position },
        {
          inlineCount: resolved.inline.length + urls.length,
        },
      );
      const items: CopyItem[] = [];
      const hashParts: string[] = [];
      for (const [i, ref] of urls.entries()) {
        let got;
        try {
          got = await download(ref.source, join(workspace.dir, `download-${i}`), checksum);
        } catch (error) {
          throw new BuildfileError(this.file, ref.position, `ADD ${ref.source}: ${messageOf(error)}`, {
            ...(error instanceof ChecksumError ? { hint: 'check the --checksum value (sha256:HEX of the file)' } : {}),
          });
        }
        hashParts.push(`url ${ref.source} ${got.digest}`);
        const mtimeMs = got.mtime.getTime();
        items.push({
          kind: 'tree',
          name: got.name,
          type: 'file',
          keepOwners: false,
          entries: [
            {
              rel: '.',
              path: got.name,
              absolute: got.path,
              type: 'file',
              mode: 0o600,
              size: 0,
              uid: 0,
              gid: 0,
              mtimeMs,
              inode: '',
              nlink: 1,
            },
          ],
        });
      }
      hashParts.push(
        from === undefined
          ? await session.context.hashSources(sources)
          : `${fromKey} ${JSON.stringify(sources.map((s) => s.path))}`,
      );
      for (const inline of resolved.inline) hashParts.push(`inline ${inline.name} ${sha256(inline.content)}`);
      const destPath = resolveWorkdir(this.state.runtime.WorkingDir ?? '/', resolved.dest);
      const key = sha256(
        [this.state.chainKey, kind, describe(resolved), ...hashParts, this.state.runtime.WorkingDir ?? '/'].join('\n'),
      );
      const what =
        sources.length + urls.length + resolved.inline.length > 1
          ? 'multi'
          : sources[0]?.type === 'directory'
            ? 'dir'
            : 'file';
      const createdBy = copyCreatedBy(kind, what, sha256(hashParts.join('\n')), destPath);
      const hit = await this.cached(key);
      if (hit?.layer !== undefined) return this.finishStep(key, createdBy, hit.layer, hit);

      for (const [i, s] of sources.entries()) {
        let archive;
        try {
          archive =
            kind === 'ADD' && s.type === 'file' && resolved.unpack !== false
              ? await archiveKind(s.entries[0]?.absolute as string)
              : undefined;
        } catch (error) {
          // bzip2 or xz without its program: the step's line, and the hint to install it.
          throw new BuildfileError(this.file, position, `ADD ${s.source}: ${messageOf(error)}`, {
            ...(error instanceof HutchError && error.hint !== undefined ? { hint: error.hint } : {}),
          });
        }
        if (archive?.kind === 'tar') {
          const dir = join(workspace.dir, `archive-${i}`);
          try {
            await unpackArchive(s.entries[0]?.absolute as string, archive.compression, dir, {
              userXattrs: session.rootless,
              storageDir: session.store.storageDir,
            });
          } catch (error) {
            // The disk reserve's hint (free space, or lower the reserve) comes along.
            throw new BuildfileError(this.file, position, `ADD ${s.source}: ${messageOf(error)}`, {
              ...(error instanceof HutchError && error.hint !== undefined ? { hint: error.hint } : {}),
            });
          }
          const unpacked = await BuildContext.openTree(dir);
          const [all] = await unpacked.resolveSources([{ source: '.', position }], {
            file: this.file,
            instruction: kind,
          });
          items.push({
            kind: 'tree',
            name: s.name,
            type: 'directory',
            keepOwners: true,
            entries: (all as CopySource).entries.filter((e) => e.rel !== '.'),
          });
          continue;
        }
        items.push({ kind: 'tree', name: s.name, type: s.type, keepOwners: from !== undefined, entries: s.entries });
      }
      const mtime = session.options.timestamp ?? new Date();
      for (const inline of resolved.inline) {
        items.push({ kind: 'content', name: inline.name, content: inline.content, mode: 0o644, mtime });
      }
      const owner = resolved.chown === undefined ? undefined : this.parseChown(resolved.chown, position);
      const root = await workspace.mount();
      copyIntoRoot(root, {
        instruction: kind,
        file: this.file,
        position: instruction.dest.position,
        dest: resolved.dest,
        workdir: this.state.runtime.WorkingDir ?? '/',
        items,
        owner,
        mode: resolved.chmod === undefined ? undefined : parseInt(resolved.chmod, 8),
      });
      await workspace.unmount();
      const layer = await workspace.commit(session.store, session.options.timestamp);
      this.finishStep(key, createdBy, { diffId: layer.diffId, blob: layer.blob }, undefined);
    } finally {
      await source?.dispose();
      await workspace.dispose();
    }
  }

  /** What COPY --from names: an earlier stage (by name or index) or an image. */
  private async fromSource(from: string, position: Position): Promise<{ layers: LayerRef[]; key: string }> {
    const { session } = this;
    const cf = session.cf;
    const index = /^\d+$/.test(from) ? Number(from) : cf.stages.find((s) => s.name === from.toLowerCase())?.index;
    if (index !== undefined && index < cf.stages.length) {
      const result = session.results.get(index);
      if (result === undefined)
        throw new BuildfileError(this.file, position, `stage ${from} was not built before this one`);
      const { state } = await result;
      return { layers: state.layers, key: `stage:${state.chainKey}` };
    }
    const image = await this.withPosition(position, () => session.image(from, undefined));
    return { layers: stateOfImage(image, '').layers, key: imageKey(image.id) };
  }
}

/** The build was interrupted: exit 130, as a shell reports SIGINT. */
export function interrupted(): HutchError {
  return new HutchError('the build was interrupted', { exitCode: 130 });
}
