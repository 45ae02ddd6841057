/**
 * `hutch ps`: the containers as podman 4.3 selects them (running ones, or all
 * with -a, -n N, --latest or a status filter; --filter), with what their rows
 * show beyond the store's record (ports, networks, and with --size and --ns
 * their sizes and namespaces), oldest first; src/cli sorts and renders them.
 * --external adds nothing: hutch's build steps are not stored containers (they
 * die with their build), and no other tool's containers are in hutch's store.
 */
import { join } from 'node:path';
import { treeSize } from '../fs/tree-size.js';
import { namespaceInodes, type NamespaceKind } from '../host/proc.js';
import { containerMatcher, containerState, parseContainerFilters } from '../run/container/filters.js';
import { openRuntime, type Runtime } from '../run/container/lifecycle.js';
import type { Container } from '../run/container/store.js';
import { storedRequest } from '../run/network/index.js';
import type { PortMapping } from '../run/network/ports.js';
import { filterContext, newestFirst } from './targets.js';

export interface PsOptions {
  all: boolean;
  /** --filter KEY=VALUE, as given. */
  filters: readonly string[];
  /** -n N: the N containers created last, whatever their state (0 or less: not given). */
  last: number;
  /** --latest: -n 1. */
  latest: boolean;
  /** --size: each container's writable layer and root file system sizes. */
  size: boolean;
  /** --ns: the namespaces of the running ones. */
  namespaces: boolean;
}

export interface ContainerSize {
  /** What the container wrote (its upper directory). */
  rwSize: number;
  /** Its image's layers, unpacked. */
  rootFsSize: number;
}

export interface PsEntry {
  container: Container;
  /** The bound ports while it runs; else the ones asked for, but those whose host port is chosen at start. */
  ports: PortMapping[];
  /** The user-defined networks it is on (--network NAME); none for slirp4netns, pasta, host, none. */
  networks: string[];
  size?: ContainerSize;
  namespaces?: Record<NamespaceKind, string>;
}

function portsOf(container: Container): PortMapping[] {
  if (container.state.status === 'running' && container.state.network !== undefined) {
    return container.state.network.ports ?? [];
  }
  return storedRequest(container.config.options).publish.filter((p) => p.hostPort !== 0);
}

function sizeOf(runtime: Runtime, container: Container): ContainerSize {
  let rootFsSize = 0;
  try {
    rootFsSize = runtime.images.resolveImage(container.config.image.id).size;
  } catch {
    // its image is gone (rmi -f): nothing of it to count
  }
  return { rwSize: treeSize(join(container.dir, 'upper')), rootFsSize };
}

function entryOf(runtime: Runtime, container: Container, options: PsOptions): PsEntry {
  const request = storedRequest(container.config.options);
  const running = container.state.status === 'running';
  return {
    container,
    ports: portsOf(container),
    networks: request.mode === 'network' && request.target !== undefined ? [request.target] : [],
    ...(options.size ? { size: sizeOf(runtime, container) } : {}),
    ...(options.namespaces ? { namespaces: running ? namespaceInodes(container.state.pid) : emptyNamespaces() } : {}),
  };
}

function emptyNamespaces(): Record<NamespaceKind, string> {
  return { cgroup: '', ipc: '', mnt: '', net: '', pid: '', user: '', uts: '' };
}

export async function ps(options: PsOptions): Promise<PsEntry[]> {
  const filters = parseContainerFilters(options.filters);
  const runtime = await openRuntime();
  const all = runtime.containers.list();
  const matches = containerMatcher(filters, filterContext(runtime, all));
  const last = options.latest ? 1 : options.last;
  // docker's rule, podman's too: a status filter lists every state it names, -a or not.
  const everyState = options.all || last > 0 || filters.has('status');
  let chosen = all.filter((c) => matches(c) && (everyState || containerState(c) === 'running'));
  if (last > 0) chosen = newestFirst(chosen).slice(0, last);
  return chosen
    .sort((a, b) => Date.parse(a.config.created) - Date.parse(b.config.created))
    .map((c) => entryOf(runtime, c, options));
}
