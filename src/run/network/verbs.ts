/**
 * `hutch network create|ls|inspect|rm|prune` and `hutch port`, as podman
 * spells and prints them. The networks are networks.ts (config) and bridge.ts
 * (what runs); which containers use one, their configs tell.
 */
import { HutchError } from '../../errors.js';
import { liveMembers, readNetworkRuntime, stopNetworkNow } from './bridge.js';
import type { NetworkState } from './driver.js';
import { isAlive } from './helper.js';
import { createNetwork, deleteNetwork, findNetwork, listNetworks, type NetworkConfig } from './networks.js';
import { storedRequest } from './attachment.js';
import { formatPort, type PublishedPort } from './ports.js';

async function runtime() {
  const { openRuntime } = await import('../container/lifecycle.js');
  return openRuntime();
}

type Runtime = Awaited<ReturnType<typeof runtime>>;
type Container = ReturnType<Runtime['containers']['list']>[number];

/** The network a running container is attached to (ContainerState.network), if any. */
function stateOf(container: Container): NetworkState | undefined {
  return container.state.network;
}

/** The containers created with --network NAME. */
function usersOf(rt: Runtime, name: string): Container[] {
  return rt.containers.list().filter((c) => {
    const request = storedRequest(c.config.options);
    return request.mode === 'network' && request.target === name;
  });
}

export interface CreateFlags {
  name?: string;
  subnet?: string;
  internal: boolean;
  options: Record<string, string>;
  labels: Record<string, string>;
  ignore: boolean;
  driver: string;
}

export async function networkCreate(flags: CreateFlags): Promise<string> {
  if (flags.driver !== 'bridge') {
    throw new HutchError(`unsupported network driver ${JSON.stringify(flags.driver)}`, { hint: 'use bridge' });
  }
  const rt = await runtime();
  const config = await createNetwork(rt.paths.storage, {
    ...(flags.name !== undefined ? { name: flags.name } : {}),
    ...(flags.subnet !== undefined ? { subnet: flags.subnet } : {}),
    internal: flags.internal,
    options: flags.options,
    labels: flags.labels,
    ignoreIfExists: flags.ignore,
  });
  return config.name;
}

/** What `network ls --format` templates and JSON see (podman's field names). */
export interface NetworkListing {
  Name: string;
  ID: string;
  Driver: string;
  Subnet: string;
  Gateway: string;
  Internal: boolean;
  Created: string;
  Labels: Record<string, string>;
}

function listing(config: NetworkConfig): NetworkListing {
  return {
    Name: config.name,
    ID: config.id,
    Driver: config.driver,
    Subnet: config.subnet,
    Gateway: config.gateway,
    Internal: config.internal,
    Created: config.created,
    Labels: config.labels,
  };
}

export async function networkList(): Promise<NetworkListing[]> {
  const rt = await runtime();
  return listNetworks(rt.paths.storage).map(listing);
}

/** podman network inspect's shape, with the members hutch keeps. */
export async function networkInspect(names: string[]): Promise<object[]> {
  const rt = await runtime();
  return names.map((nameOrId) => {
    const config = findNetwork(rt.paths.storage, nameOrId);
    const state = readNetworkRuntime(rt.paths.runtime, config.name);
    const running = state !== undefined && state.id === config.id && isAlive(state.holder);
    const members = running ? liveMembers(rt.paths.runtime, config.name) : [];
    return {
      name: config.name,
      id: config.id,
      driver: config.driver,
      network_interface: 'hutch0',
      created: config.created,
      subnets: [{ subnet: config.subnet, gateway: config.gateway }],
      ipv6_enabled: false,
      internal: config.internal,
      dns_enabled: false,
      options: config.options,
      labels: config.labels,
      running,
      ...(running && state !== undefined
        ? { holder: { pid: state.holder.pid, slirp4netns: state.slirp?.pid ?? null } }
        : {}),
      containers: Object.fromEntries(
        members.map((m) => [
          m.containerId,
          {
            name: m.name,
            interfaces: {
              eth0: { subnets: [{ ipnet: `${m.address}/${config.subnet.split('/')[1]}`, gateway: config.gateway }] },
            },
          },
        ]),
      ),
    };
  });
}

/**
 * Removes networks. A network containers were created with is refused
 * without force; with force those containers are removed first (podman's -f).
 */
export async function networkRemove(names: string[], options: { force: boolean }): Promise<string[]> {
  const rt = await runtime();
  const removed: string[] = [];
  for (const nameOrId of names) {
    const config = findNetwork(rt.paths.storage, nameOrId);
    const users = usersOf(rt, config.name);
    if (users.length > 0 && !options.force) {
      throw new HutchError(
        `"${config.name}" has associated containers with it. Use -f to forcibly delete containers and pods: network is being used`,
        { hint: `containers: ${users.map((c) => c.config.name).join(', ')}` },
      );
    }
    if (users.length > 0) {
      const { removeContainer } = await import('../container/lifecycle.js');
      for (const user of users) await removeContainer(rt, user, { force: true, volumes: false });
    }
    await stopNetworkNow(rt.paths.runtime, config.name);
    await deleteNetwork(rt.paths.storage, config.name);
    removed.push(config.name);
  }
  return removed;
}

/** Networks no container was created with. */
export async function networkPrune(): Promise<string[]> {
  const rt = await runtime();
  const removed: string[] = [];
  for (const config of listNetworks(rt.paths.storage)) {
    if (usersOf(rt, config.name).length > 0) continue;
    await stopNetworkNow(rt.paths.runtime, config.name);
    await deleteNetwork(rt.paths.storage, config.name);
    removed.push(config.name);
  }
  return removed;
}

/** `hutch port CTR [PORT[/PROTO]]`, `hutch port -a`: podman's lines. */
export async function portVerb(name: string | undefined, port: string | undefined, all: boolean): Promise<string> {
  const rt = await runtime();
  const containers = all ? rt.containers.list() : [rt.containers.find(name ?? '')];
  const lines: string[] = [];
  let wanted: { port: number; protocol: string } | undefined;
  if (port !== undefined) {
    const match = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(port);
    if (match === null)
      throw new HutchError(`invalid port ${JSON.stringify(port)}`, { hint: 'give PORT or PORT/tcp|udp' });
    wanted = { port: Number(match[1]), protocol: match[2] ?? 'tcp' };
  }
  for (const container of containers) {
    const state = container.state.status === 'running' ? stateOf(container) : undefined;
    const ports: PublishedPort[] = state?.ports ?? [];
    if (wanted !== undefined) {
      const hits = ports.filter((p) => p.containerPort === wanted.port && p.protocol === wanted.protocol);
      if (hits.length === 0 && !all) {
        throw new HutchError(`failed to find published port "${wanted.port}/${wanted.protocol}"`);
      }
      for (const hit of hits) lines.push(formatPort(hit).split(' -> ')[1] as string);
      continue;
    }
    for (const p of ports) lines.push(all ? `${container.config.id.slice(0, 12)}\t${formatPort(p)}` : formatPort(p));
  }
  return lines.map((l) => `${l}\n`).join('');
}
