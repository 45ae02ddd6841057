/**
 * What `hutch build` is asked to do, as typed options: src/cli/build.ts maps
 * the flags to this and nothing else.
 */
import type { Limits } from '../run/cgroups/index.js';
import type { Readable, Writable } from 'node:stream';
import type { Credentials } from '../image/registry/credentials.js';
import type { MountRequest } from '../run/container/mount-options.js';
import type { SecurityOptions } from '../run/security/security-options.js';
import type { NetworkFlags } from '../run/network/request.js';
import type { UlimitRequests } from '../run/rlimits.js';

export type PullPolicy = 'missing' | 'always' | 'never';

export interface BuildOptions {
  /**
   * The context directory; `-`: standard input holds a tar archive (plain or
   * compressed) to unpack as the context, or else a Containerfile (and the
   * context is empty). undefined: the directory of the first -f file.
   */
  contextDir: string | undefined;
  /**
   * -f, in order: paths (relative to the working directory, else to the
   * context) or `-` for standard input; their instructions are read as one
   * Containerfile. Empty: CONTEXT/Containerfile, else CONTEXT/Dockerfile.
   */
  files: string[];
  /** What `-` reads (the caller's standard input). */
  stdin: Readable;
  /** --ignorefile: the ignore rules instead of the context's .containerignore or .dockerignore. */
  ignoreFile: string | undefined;
  /**
   * --layers (podman's default; BUILDAH_LAYERS=false turns it off): each step is
   * a cached layer. Without: no cache is read or written, and the build's new
   * layers become one.
   */
  layers: boolean;
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
  /** --authfile: the logins FROM pulls use instead of podman's auth.json locations. */
  authFile: string | undefined;
  /** --creds USER:PASSWORD for FROM pulls. */
  credentials: Credentials | undefined;
  /** -v: bind mounts (or named volumes) every RUN step gets; not part of the image. */
  volumes: MountRequest[];
  /** --cap-add and --cap-drop of every RUN step. */
  capAdd: string[];
  capDrop: string[];
  /** --security-opt of every RUN step. */
  security: SecurityOptions;
  /** --env NAME=VALUE (NAME alone: its value here; NAME-: unset) in the final image's config. */
  env: string[];
  /** --unsetenv: names removed from the final image's environment. */
  unsetEnv: string[];
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
