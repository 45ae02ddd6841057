/**
 * What a step sees of the stage it runs in: the build session, the image
 * state so far, the variable scope, and the stage's shared services (cache
 * lookup, finishing a step, the USER, COPY --from sources). StageBuilder
 * (stage.ts) implements it; the steps with real work (run.ts, copy.ts,
 * workdir.ts) take it as their first argument.
 */
import { HutchError } from '../../errors.js';
import type { Position } from '../containerfile/ast.js';
import type { ResolvedInstruction } from '../containerfile/resolve.js';
import type { StageScope } from '../containerfile/scope.js';
import type { BuildSession } from '../build-session.js';
import type { CacheEntry } from '../cache.js';
import type { ImageState, LayerRef } from '../state.js';
import type { ResolvedUser } from '../../run/container/user.js';

export type Resolved<K extends ResolvedInstruction['kind']> = Extract<ResolvedInstruction, { kind: K }>;

/** An instruction's resolved form as text for a cache key: positions and the syntax node left out. */
export function describe(resolved: ResolvedInstruction): string {
  return JSON.stringify(resolved, (key, value: unknown) =>
    key === 'node' || key === 'position' || key === 'bodyLine' || key === 'spec' ? undefined : value,
  );
}

export interface StepContext {
  readonly session: BuildSession;
  /** The Containerfile's name, for errors. */
  readonly file: string;
  readonly state: ImageState;
  readonly scope: StageScope;
  /** The stage's layers as overlay lower directories. */
  readonly lowers: string[];
  /** The cache entry of a step, unless --no-cache: the local cache's, else a --cache-from repository's. */
  cached(key: string): Promise<CacheEntry | undefined>;
  /** A step is done: its layer (if any) and history entry added, the chain key moved on to `key`. */
  finishStep(key: string, createdBy: string, layer: LayerRef | undefined, hit: CacheEntry | undefined): void;
  /** The image's /etc/passwd and /etc/group as they are now. */
  accountFiles(): { passwd: string | null; group: string | null };
  /** The USER resolved in the image's account files; a BuildfileError at `position` when it is unknown. */
  user(position: Position): ResolvedUser;
  /** What COPY --from names: an earlier stage (by name or index) or an image. */
  fromSource(from: string, position: Position): Promise<{ layers: LayerRef[]; key: string }>;
}

/** The build was interrupted: exit 130, as a shell reports SIGINT. */
export function interrupted(): HutchError {
  return new HutchError('the build was interrupted', { exitCode: 130 });
}
