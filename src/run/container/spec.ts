/**
 * What a container is made of once every flag, the image config and the host
 * have been taken into account: the input of the container plan
 * (containerPlan in src/run/container/lifecycle.ts). A subset of the OCI runtime spec's config.json,
 * in hutch's words. Paths named "host" are as the session's mount namespace
 * sees them; "destination" paths are inside the container.
 */

export interface IdMapping {
  inside: number;
  outside: number;
  count: number;
}

export interface BindMount {
  type: 'bind';
  /** Host path (a volume's _data directory for a named volume). */
  source: string;
  destination: string;
  readonly: boolean;
  /** Recursive bind (rbind), the default for -v. */
  recursive: boolean;
  /** Extra flags: nosuid, nodev, noexec. */
  options: ('nosuid' | 'nodev' | 'noexec')[];
}

export interface TmpfsMount {
  type: 'tmpfs';
  destination: string;
  readonly: boolean;
  /** size=, mode=, uid=, gid= … as mount(8) takes them; nosuid/nodev/noexec as flags. */
  data: string[];
  options: ('nosuid' | 'nodev' | 'noexec')[];
  /** false: notmpcopyup. Otherwise (podman's default) the image's content there is copied into it at start. */
  copyUp?: boolean;
}

export type MountSpec = BindMount | TmpfsMount;

export interface Capabilities {
  bounding: bigint;
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
  ambient: bigint;
}

export interface Rlimit {
  /** RLIMIT_* number. */
  resource: number;
  soft: number | bigint;
  hard: number | bigint;
}

export interface ProcessSpec {
  /** argv, argv[0] resolved against PATH inside the container at exec time. */
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  /** A pseudo-terminal on stdin/stdout/stderr (-t). */
  terminal: boolean;
  noNewPrivileges: boolean;
  capabilities: Capabilities;
  /** Compiled seccomp filter (struct sock_filter[]); undefined for unconfined. */
  seccomp: Buffer | undefined;
  rlimits: Rlimit[];
  umask: number;
}

/** loopbackUp: the plan brings the new namespace's loopback up (--network none: no helper does). */
export type NetworkNamespace =
  { mode: 'new'; loopbackUp?: boolean } | { mode: 'host' } | { mode: 'join'; path: string };

export interface ContainerSpec {
  id: string;
  /** The mounted root file system (host path of the overlay's merged dir). */
  rootfs: string;
  readonlyRootfs: boolean;
  hostname: string;
  /** Host files bind-mounted over /etc/hosts, /etc/hostname, /etc/resolv.conf. */
  etcFiles: { hosts: string; hostname: string; resolvConf: string };
  mounts: MountSpec[];
  /** Host device nodes bind-mounted into the container's /dev (a user namespace cannot mknod them). */
  devices: string[];
  maskedPaths: string[];
  readonlyPaths: string[];
  network: NetworkNamespace;
  /** A nested user namespace (--userns=keep-id); undefined: the session's. */
  userNamespace: { uidMap: IdMapping[]; gidMap: IdMapping[] } | undefined;
  /** Host path of the init binary to run as pid 1 (--init); undefined: the command is pid 1. */
  init: string | undefined;
  process: ProcessSpec;
}
