/**
 * What every network mode provides (one module per mode: slirp4netns, pasta,
 * none, host, container, bridge networks), and the contexts the container
 * code hands in. index.ts picks the driver by NetworkRequest.mode.
 */
import type { HelperProcess } from './helper.js';
import type { PublishedPort } from './ports.js';
import type { NetworkMode, NetworkRequest } from './request.js';

/** As src/run/container/spec.ts declares it (structurally the same type). */
/** loopbackUp: the container's own plan brings its loopback up (no helper is attached that would). */
export type NetworkNamespace =
  { mode: 'new'; loopbackUp?: boolean } | { mode: 'host' } | { mode: 'join'; path: string };

/** The little the network code needs of another container (the container store's Container fits). */
export interface ContainerLookup {
  find(nameOrId: string): {
    config: { id: string; name: string };
    state: { status: string; pid: number; pidStartTime: number };
    /** Its directory in the store: userdata/hosts and userdata/resolv.conf are there. */
    dir: string;
  };
}

export interface NamespaceContext {
  /** For container:NAME. */
  containers: ContainerLookup;
}

export interface EtcContext {
  hostname: string;
  /** The container's name (an alias in /etc/hosts). */
  name: string;
  /** The store (for --network NAME: the network's addresses). */
  storage: string;
  /** For container:NAME: its files are shared. */
  containers: ContainerLookup;
  /** The host's /etc/hosts and /etc/resolv.conf (tests give them). */
  readHostFile?: (path: '/etc/hosts' | '/etc/resolv.conf') => string | undefined;
}

export interface AttachContext {
  containerId: string;
  name: string;
  hostname: string;
  /** The container's process, waiting before its first instruction, in the network namespace to attach. */
  pid: number;
  /** The container's runtime directory (helper logs go there). */
  runtimeDir: string;
  /** hutch's storage and runtime directories (Paths.storage, Paths.runtime). */
  storage: string;
  runtime: string;
  /** The container's hosts file (userdata/hosts), which a network's members rewrite in place. */
  hostsFile: string;
}

/**
 * What a container's network is while it runs, JSON-serializable: kept in its
 * state.json so cleanup, `hutch port` and any later process can detach it.
 */
export interface NetworkState {
  mode: NetworkMode;
  containerId: string;
  /** The container's address in its network, when it has one of its own. */
  address?: string;
  /** Where the container reaches the host's loopback, when allowed. */
  gateway?: string;
  /** Published ports as bound (host ports chosen for -P and for -p without one). */
  ports: PublishedPort[];
  /** The container's own slirp4netns or pasta. */
  helper?: HelperProcess;
  /** slirp4netns's API socket (its own, or its network's). */
  apiSocket?: string;
  /** Files the helper made that detach removes. */
  files?: string[];
  /** --network NAME: the network, and where its runtime state lives. */
  network?: { name: string; runtime: string };
  /** container:NAME: the container joined. */
  target?: string;
}

export interface ModeDriver {
  namespace(request: NetworkRequest, ctx: NamespaceContext): NetworkNamespace;
  etc(request: NetworkRequest, ctx: EtcContext, host: HostFiles): { hosts: string; resolvConf: string };
  attach(request: NetworkRequest, ctx: AttachContext): Promise<NetworkState>;
  /** Idempotent; never throws for what is already gone. */
  detach(state: NetworkState): Promise<void>;
}

/** The host's files, read once per call. */
export interface HostFiles {
  hosts: string;
  resolvConf: string;
}
