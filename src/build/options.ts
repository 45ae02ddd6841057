/**
 * What `hutch build` is asked to do, as typed options: src/cli/build.ts maps
 * the flags to this and nothing else.
 */
import type { Limits } from '../run/cgroups/index.js';
import type { Writable } from 'node:stream';
import type { NetworkFlags } from '../run/network/request.js';
import type { UlimitRequests } from '../run/rlimits.js';

export type PullPolicy = 'missing' | 'always' | 'never';

export interface BuildOptions {
  /** The context directory. */
  contextDir: string;
  /** -f: a path, or `-` for standard input; CONTEXT/Containerfile (else Dockerfile) when undefined. */
  file: string | undefined;
  /** The Containerfile's text for `-f -` (standard input is read when undefined). */
  stdinText?: string | undefined;
  /** -t names; the image is nameless without one. */
  tags: string[];
  buildArgs: Map<string, string>;
  target: string | undefined;
  noCache: boolean;
  /** --cache-from: registry repositories whose cached steps a local miss may use. */
  cacheFrom: string[];
  /** --cache-to: registry repositories every step is exported to. */
  cacheTo: string[];
  pull: PullPolicy;
  /** --label: added to the final image's labels. */
  labels: Record<string, string>;
  iidfile: string | undefined;
  quiet: boolean;
  format: 'oci' | 'docker';
  /** --platform os/arch[/variant]: the target platform (FROM images are pulled for it). */
  platform: string | undefined;
  /** SOURCE_DATE_EPOCH or --timestamp: created times, and layer mtimes clamped to it. */
  timestamp: Date | undefined;
  /** The network of RUN steps, as `hutch run` takes it (slirp4netns by default); no ports to publish. */
  network: Omit<NetworkFlags, 'publish' | 'publishAll'>;
  tlsVerify: boolean;
  /** --memory, --cpus, --pids-limit…: every RUN step's cgroup gets them (refused where they cannot hold). */
  limits: Limits;
  /** --ulimit: every RUN step's process gets them (setrlimit). */
  ulimits: UlimitRequests;
  /** --squash: the build's new layers become one; --squash-all: every layer does. */
  squash: 'none' | 'new' | 'all';
  /** --secret specs (id=…,src=… or env=…), read when the build starts. */
  secrets: string[];
  /**
   * Step lines and RUN output go here (podman build writes both to stdout);
   * a terminal (isTTY) gets the live view. The caller's streams: the build
   * itself names no process stream.
   */
  stdout: Writable & { isTTY?: boolean; columns?: number };
  /** Warnings, and the progress of pulls outside the live view. */
  stderr: Writable & { isTTY?: boolean };
}
