/**
 * One stage of a build: its base (scratch, an image, an earlier stage), the
 * ONBUILD triggers of that base, then each instruction in order. Config-only
 * steps change the image config and add an `empty_layer` history entry; RUN,
 * COPY, ADD and a WORKDIR that creates its directory commit a layer, or reuse
 * the one the cache has for the same key. The steps with real work are in
 * steps/ (run.ts, copy.ts, workdir.ts); the config-only ones are here.
 */
import { HutchError, messageOf } from '../errors.js';
import type { Position } from './containerfile/ast.js';
import { parseTrigger } from './containerfile/instruction-parser.js';
import {
  DEFAULT_SHELL,
  type AddInstruction,
  type CopyInstruction,
  type Instruction,
  type Stage,
} from './containerfile/instructions.js';
import { commandArgs, resolveInstruction, type ResolvedInstruction } from './containerfile/resolve.js';
import { StageScope } from './containerfile/scope.js';
import { BuildfileError } from './containerfile/parser.js';
import { nopCreatedBy } from './history.js';
import type { CacheEntry } from './cache.js';
import { imageKey, type BuildSession, type StageResult } from './build-session.js';
import { cloneState, scratchState, sha256, stateOfImage, type ImageState, type LayerRef } from './state.js';
import { copyStep } from './steps/copy.js';
import { runStep } from './steps/run.js';
import { describe, interrupted, type StepContext } from './steps/step.js';
import { workdirStep } from './steps/workdir.js';
import { layerPaths, readLayeredFile } from './workspace.js';
import { DEFAULT_PATH } from '../run/container/spec-builder.js';
import { resolveUser, type ResolvedUser } from '../run/container/user.js';

/** buildah's stage prefix, `[i/k]` (k: the stages up to the target), when the file has more than one. */
export function stageLabel(session: BuildSession, index: number): string | undefined {
  const count = session.plan.target + 1;
  return count > 1 ? `${index + 1}/${count}` : undefined;
}

/** A step's id as buildah prints an image id after a step: 11 hex digits. */
export function shortStepId(key: string): string {
  return key.replace(/^sha256:/, '').slice(0, 11);
}

/**
 * A failed step, in buildah's words with the place in the file after them:
 * `building at STEP "RUN make": Containerfile:3:1: while running runtime:
 * exit status 2`. Its exit status and hint are kept.
 */
function stepFailed(what: string, error: unknown): HutchError {
  return new HutchError(`${what}: ${messageOf(error)}`, {
    cause: error,
    ...(error instanceof HutchError
      ? { exitCode: error.exitCode, ...(error.hint === undefined ? {} : { hint: error.hint }) }
      : {}),
  });
}

export class StageBuilder implements StepContext {
  state!: ImageState;
  scope!: StageScope;
  /** CMD set in this stage: an ENTRYPOINT then keeps it (otherwise it clears the base's). */
  private cmdSet = false;
  private readonly label: string | undefined;
  private stepNumber = 0;
  private stepCount = 0;
  /** The step running is the image's last: it prints no `--> ID`, the commit does. */
  private finalStep = false;

  constructor(
    readonly session: BuildSession,
    private readonly stage: Stage,
  ) {
    this.label = stageLabel(session, stage.index);
  }

  get file(): string {
    return this.session.cf.file;
  }

  async build(): Promise<StageResult> {
    const { session, stage } = this;
    const base = session.plan.bases[stage.index];
    if (base === undefined) throw new Error(`no base for stage ${stage.index}`);
    // FROM is told before its image is looked up (or pulled); the count grows by the base's
    // ONBUILD triggers once they are known, as buildah counts.
    this.stepCount = stage.instructions.length + 1;
    this.announce(stage.from.node.original);
    let state: ImageState;
    if (base.kind === 'scratch') state = scratchState(session.targetPlatform, session.salt);
    else if (base.kind === 'stage') {
      const result = session.results.get(base.index);
      if (result === undefined) throw new Error(`stage ${base.index} was not scheduled before stage ${stage.index}`);
      state = cloneState((await result).state);
    } else {
      let image;
      try {
        image = await session.image(base.reference, base.platform);
      } catch (error) {
        // buildah's words: the FROM image is the build container's.
        throw stepFailed('creating build container', error);
      }
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
    // The FROM line says nothing more: the base is no step of this build's.
    session.output.done(this.label);
    const target = stage.index === session.plan.target;
    for (const [i, { instruction, trigger }] of steps.entries()) {
      if (session.signal.aborted) throw interrupted();
      this.finalStep = target && i === steps.length - 1;
      this.announce(trigger ? `${instruction.node.original} (ONBUILD)` : instruction.node.original);
      try {
        if (trigger && instruction.kind === 'COPY' && instruction.from !== undefined) {
          throw new BuildfileError(this.file, stage.from.node.position, 'an ONBUILD COPY --from is not supported');
        }
        const resolved = resolveInstruction(session.cf, instruction, this.scope);
        await this.dispatch(resolved, instruction);
      } catch (error) {
        if (session.signal.aborted) throw interrupted();
        throw stepFailed(`building at STEP ${JSON.stringify(instruction.node.original)}`, error);
      }
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

  get lowers(): string[] {
    return layerPaths(this.session.store, this.state.layers);
  }

  /** The cache entry of a step, unless --no-cache or --layers=false: the local cache's, else a --cache-from repository's. */
  async cached(key: string): Promise<CacheEntry | undefined> {
    const { session } = this;
    if (session.options.noCache || !session.options.layers) return undefined;
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
  finishStep(key: string, createdBy: string, layer: LayerRef | undefined, hit: CacheEntry | undefined): void {
    const { session } = this;
    const created = hit?.created ?? session.created();
    // Without --layers no step is kept for later builds, as buildah keeps no intermediate image.
    if (session.options.layers) {
      if (hit === undefined) session.cache.record(key, { layer, created });
      session.remoteCache?.export(key, { layer, created });
    }
    if (layer !== undefined) this.state.layers.push(layer);
    this.state.history.push({ created, created_by: createdBy, ...(layer === undefined ? { empty_layer: true } : {}) });
    this.state.chainKey = key;
    this.stepDone(key, hit !== undefined);
  }

  /**
   * buildah's lines after a step: `--> Using cache KEY` when cached, then
   * `--> ID` (the step's key, as short as buildah's ids) unless it is the
   * image's last step, which the commit ends; nothing without --layers.
   */
  private stepDone(key: string, cached: boolean): void {
    const lines: string[] = [];
    if (this.session.options.layers) {
      if (cached) lines.push(`Using cache ${key}`);
      if (!this.finalStep) lines.push(shortStepId(key));
    }
    this.session.output.done(this.label, ...lines);
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
        this.stepDone(this.state.chainKey, false);
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
        return workdirStep(this, resolved);
      case 'RUN':
        return runStep(this, resolved);
      case 'COPY':
      case 'ADD':
        return copyStep(this, resolved, instruction as CopyInstruction | AddInstruction);
    }
  }

  /** The image's /etc/passwd and /etc/group as they are now. */
  accountFiles(): { passwd: string | null; group: string | null } {
    const lowers = this.lowers;
    return { passwd: readLayeredFile(lowers, 'etc/passwd'), group: readLayeredFile(lowers, 'etc/group') };
  }

  user(position: Position): ResolvedUser {
    try {
      return resolveUser(this.state.runtime.User, this.accountFiles(), []);
    } catch (error) {
      throw new BuildfileError(this.file, position, messageOf(error), {
        hint: 'create the user in an earlier RUN step, or give a numeric USER uid[:gid]',
      });
    }
  }

  /** What COPY --from names: an earlier stage (by name or index) or an image. */
  async fromSource(from: string, position: Position): Promise<{ layers: LayerRef[]; key: string }> {
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
