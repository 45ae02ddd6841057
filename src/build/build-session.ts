/**
 * What every stage of one build shares: the store and the rootfs driver, the
 * parsed Containerfile and its stage plan, the context, the cache, the
 * output, and the results of the stages built so far (for FROM and
 * COPY --from).
 */
import type { Digest } from '../image/digest.js';
import type { Platform } from '../image/oci.js';
import type { ResolvedImage } from '../image/store/resolve.js';
import type { ImageStore } from '../image/store/store.js';
import type { NetworkRequest } from '../run/network/index.js';
import type { RootfsDriver } from '../run/rootfs/index.js';
import type { BuildCache } from './cache.js';
import type { RemoteCache } from './remote-cache.js';
import type { Containerfile } from './containerfile/instructions.js';
import type { GlobalScope } from './containerfile/scope.js';
import type { StagePlan } from './containerfile/stages.js';
import type { BuildContext } from './context.js';
import type { BuildOptions } from './options.js';
import type { BuildOutput } from './output.js';
import type { ImageState } from './state.js';
import type { Ulimit } from '../run/rlimits.js';
import type { MountSpec } from '../run/container/spec.js';
import type { BuildSecret } from './steps/run-mounts.js';

export interface StageResult {
  state: ImageState;
}

export interface BuildSession {
  store: ImageStore;
  driver: RootfsDriver;
  rootless: boolean;
  /** Where RUN containers keep their runtime files. */
  runtimeRoot: string;
  /** hutch's storage and runtime directories. */
  paths: { storage: string; runtime: string };
  /** The network RUN steps get unless a RUN --network says otherwise. */
  network: NetworkRequest;
  secrets: ReadonlyMap<string, BuildSecret>;
  context: BuildContext;
  cf: Containerfile;
  plan: StagePlan;
  global: GlobalScope;
  options: BuildOptions;
  /** -v: what every RUN step mounts (binds, named volumes), resolved. */
  volumes: MountSpec[];
  /** --ulimit, resolved against hutch's own limits: set in every RUN step's process. */
  ulimits: Ulimit[];
  cache: BuildCache;
  /** The registry cache of --cache-from/--cache-to; undefined without them. */
  remoteCache: RemoteCache | undefined;
  output: BuildOutput;
  targetPlatform: Platform;
  /** Salt of every chain key: what changes every layer's bytes (the timestamp clamp). */
  salt: string;
  /** Stage results by index, set when a stage starts building. */
  results: Map<number, Promise<StageResult>>;
  /** An image for FROM or COPY --from: the store's, pulled when missing (or with --pull=always). */
  image(reference: string, platform: string | undefined): Promise<ResolvedImage>;
  /** Aborted when the build is interrupted (SIGINT, SIGTERM): running steps are killed, no new one starts. */
  signal: AbortSignal;
  /** The time a history entry or the image gets: the timestamp, else now. */
  created(): string;
}

export function imageKey(id: Digest): string {
  return `image:${id}`;
}
