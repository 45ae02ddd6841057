/**
 * User-defined networks at run time, as rootlesskit and podman's rootless
 * netns do it: one long-lived network namespace per network, held by a
 * sleeping process (`unshare --net sleep infinity`, started from the session,
 * so the session's user namespace owns it), with
 *
 *   - a bridge `hutch0`;
 *   - slirp4netns on `tap0`, enslaved to the bridge and not configured: its
 *     libslirp router answers on the subnet's .2 (gateway, and the host's
 *     loopback when allowed) and .3 (DNS) for every member, so members reach
 *     the outside without NAT rules, and published ports are add_hostfwd to a
 *     member's address (no slirp4netns for an --internal network);
 *   - one veth pair per member: `vh<id>` on the bridge, `eth0` in the
 *     container's namespace with an address of the subnet, a default route
 *     via .2, and `unreachable` routes for the address pool and every other
 *     network's subnet, so a member can neither reach another network nor send
 *     such an address out through slirp4netns to the host's real network.
 *
 * Networks are isolated because they share nothing: separate namespaces,
 * bridges and slirp4netns. Members find each other by name through their
 * /etc/hosts, rewritten in place (the files are bind-mounted) for every member
 * when one joins or leaves. The holder starts with the first member and is
 * stopped with the last one, or when a join fails and no one else is there.
 *
 * State: `<runtime>/networks/<name>/state.json`, changed under
 * `<runtime>/networks/<name>.lock`; members whose process is gone (their
 * cleanup never ran) are dropped whenever the state is read for a change.
 */
import { mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HutchError, withContext } from '../../errors.js';
import { acquireLock } from '../../fs/lock.js';
import { addressAt, formatCidr, overlaps, parseCidr, sizeOf, type Cidr } from './cidr.js';
import { etcFiles, hostsWithPeers, ownNames, reachableNameservers, type HostEntry } from './dns.js';
import { readHostFiles } from './host-files.js';
import type { ModeDriver, NetworkState } from './contract.js';
import { isAlive, release, startHelper, startTimeOf, stopHelper, waitReady, type HelperProcess } from './helper.js';
import { ipBatch, ipBatchQuiet, netnsOf, unshareTool } from './ip.js';
import { DEFAULT_POOL, findNetwork, listNetworks, type NetworkConfig } from './networks.js';
import { resolvePorts, type PublishedPort } from './ports.js';
import type { NetworkRequest } from './request.js';
import { addForwards, DEFAULT_MTU, removeForwards, startSlirp } from './slirp4netns.js';
import { writeFileAtomic } from '../../fs/atomic-write.js';
import { ifExists } from '../../fs/missing.js';

export const BRIDGE = 'hutch0';
/** Members get addresses from the subnet's .10 on (.2 and .3 are slirp4netns's). */
const FIRST_MEMBER_OFFSET = 10;

export interface Member {
  containerId: string;
  name: string;
  hostname: string;
  /** --network-alias: more names the other members find it by (absent in older state files). */
  aliases?: string[];
  address: string;
  /** The holder's end of the veth pair. */
  veth: string;
  /** The container's /etc/hosts on the host (bind-mounted: rewritten in place). */
  hostsFile: string;
  /** Its hosts file without the peers. */
  baseHosts: string;
  pid: number;
  pidStartTime: number;
  ports: PublishedPort[];
  forwardIds: number[];
}

export interface NetworkRuntime {
  name: string;
  /** The network's id: a network removed and created again under the name does not inherit this. */
  id: string;
  holder: HelperProcess;
  slirp: HelperProcess | undefined;
  apiSocket: string | undefined;
  members: Record<string, Member>;
}

export function networkRuntimeDir(runtime: string, name: string): string {
  return join(runtime, 'networks', name);
}

function statePath(runtime: string, name: string): string {
  return join(networkRuntimeDir(runtime, name), 'state.json');
}

export function readNetworkRuntime(runtime: string, name: string): NetworkRuntime | undefined {
  const text = ifExists(() => readFileSync(statePath(runtime, name), 'utf8'));
  return text === undefined ? undefined : (JSON.parse(text) as NetworkRuntime);
}

function writeState(runtime: string, state: NetworkRuntime): void {
  const path = statePath(runtime, state.name);
  writeFileAtomic(path, JSON.stringify(state, null, 2));
}

/** Serializes joins, leaves and removal of one network across processes. */
export async function lockNetwork(runtime: string, name: string): Promise<() => void> {
  mkdirSync(join(runtime, 'networks'), { recursive: true, mode: 0o700 });
  return acquireLock(join(runtime, 'networks', `${name}.lock`));
}

function mtuOf(config: NetworkConfig): number {
  return config.options.mtu !== undefined ? Number(config.options.mtu) : DEFAULT_MTU;
}

function ownNetns(): string {
  try {
    return readlinkSync('/proc/self/ns/net');
  } catch {
    return '';
  }
}

/** Starts the holder, its bridge and (unless internal) its slirp4netns; stops what it started on failure. */
async function startNetwork(config: NetworkConfig, runtime: string): Promise<NetworkRuntime> {
  const dir = networkRuntimeDir(runtime, config.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mtu = mtuOf(config);
  const mine = ownNetns();
  const started = await startHelper({
    program: 'unshare',
    path: unshareTool(),
    args: ['--net', '--', 'sleep', 'infinity'],
    log: join(dir, 'holder.log'),
  });
  const holder = started.helper;
  let slirp: HelperProcess | undefined;
  try {
    await waitReady(started, {
      poll: () => {
        try {
          return readlinkSync(`/proc/${holder.pid}/ns/net`) !== mine;
        } catch {
          return false;
        }
      },
    });
    release(started);
    await ipBatch(
      netnsOf(holder.pid),
      ['link set lo up', `link add ${BRIDGE} type bridge`, `link set ${BRIDGE} mtu ${mtu} up`],
      `network ${config.name}: make its bridge`,
    );
    const apiSocket = config.internal ? undefined : join(dir, 'slirp.sock');
    if (apiSocket !== undefined) {
      slirp = await startSlirp({
        pid: holder.pid,
        configure: false,
        mtu,
        cidr: config.subnet,
        allowHostLoopback: config.options.allow_host_loopback === 'true',
        enableIpv6: false,
        apiSocket,
        log: join(dir, 'slirp4netns.log'),
      });
      await ipBatch(
        netnsOf(holder.pid),
        [`link set tap0 master ${BRIDGE}`, `link set tap0 mtu ${mtu} up`],
        `network ${config.name}: put slirp4netns's tap0 on the bridge`,
      );
    }
    return { name: config.name, id: config.id, holder, slirp, apiSocket, members: {} };
  } catch (error) {
    if (slirp !== undefined) await stopHelper(slirp, 200);
    await stopHelper(holder, 200);
    release(started);
    rmSync(dir, { recursive: true, force: true });
    throw withContext('network', `start network ${config.name}`, error);
  }
}

async function stopNetwork(runtime: string, state: NetworkRuntime): Promise<void> {
  if (state.slirp !== undefined) await stopHelper(state.slirp);
  await stopHelper(state.holder);
  rmSync(networkRuntimeDir(runtime, state.name), { recursive: true, force: true });
}

function running(state: NetworkRuntime | undefined, config: NetworkConfig): state is NetworkRuntime {
  return (
    state !== undefined &&
    state.id === config.id &&
    isAlive(state.holder) &&
    (config.internal || (state.slirp !== undefined && isAlive(state.slirp)))
  );
}

/** Drops members whose container process is gone; their veth went with their namespace. */
async function pruneMembers(state: NetworkRuntime): Promise<void> {
  for (const [id, member] of Object.entries(state.members)) {
    if (startTimeOf(member.pid) === member.pidStartTime) continue;
    if (state.apiSocket !== undefined) await removeForwards(state.apiSocket, member.forwardIds);
    delete state.members[id];
  }
}

/** Rewrites every member's hosts file with the others by name (in place: the files are bind-mounted). */
function rewriteHosts(state: NetworkRuntime): void {
  const members = Object.values(state.members);
  for (const member of members) {
    const peers: HostEntry[] = members
      .filter((m) => m.containerId !== member.containerId)
      .map((m) => ({ address: m.address, names: ownNames(m.hostname, m.name, m.aliases) }));
    try {
      writeFileSync(member.hostsFile, hostsWithPeers(member.baseHosts, peers));
    } catch {
      // removed meanwhile: its cleanup will leave the network
    }
  }
}

/** `unreachable` routes for the pool and the other networks' subnets (not the member's own). */
export function isolationRoutes(own: Cidr, others: string[]): string[] {
  const routes: string[] = [];
  for (const text of [DEFAULT_POOL, ...others]) {
    const other = parseCidr(text, 1, 32);
    if (other === undefined) continue;
    // A subnet inside the member's own (or equal) would shadow its own addresses.
    if (overlaps(other, own) && other.prefix >= own.prefix) continue;
    const route = formatCidr(other);
    if (!routes.includes(route)) routes.push(route);
  }
  return routes.map((r) => `route add unreachable ${r}`);
}

function allocateAddress(config: NetworkConfig, state: NetworkRuntime): string {
  const subnet = parseCidr(config.subnet, 1, 32) as Cidr;
  const used = new Set(Object.values(state.members).map((m) => m.address));
  for (let offset = FIRST_MEMBER_OFFSET; offset < sizeOf(subnet) - 1; offset++) {
    const address = addressAt(subnet, offset);
    if (!used.has(address)) return address;
  }
  throw new HutchError(`network ${config.name} has no free address left in ${config.subnet}`, {
    hint: 'remove containers from it, or create a network with a larger --subnet',
  });
}

export interface JoinRequest {
  containerId: string;
  name: string;
  hostname: string;
  aliases: string[];
  /** The container's process (waiting before its first instruction), in its own network namespace. */
  pid: number;
  hostsFile: string;
  /** The container's hosts file for a given address of its own (without peers). */
  baseHosts: (address: string) => string;
  ports: PublishedPort[];
}

export interface Joined {
  address: string;
  prefix: number;
  gateway: string | undefined;
  forwardIds: number[];
}

/**
 * Puts the container on the network: starts the network when it is the first
 * member, wires a veth pair, forwards its ports, updates every member's
 * /etc/hosts. On failure, undoes its part (and stops a network it started).
 */
export async function joinNetwork(
  config: NetworkConfig,
  storage: string,
  runtime: string,
  request: JoinRequest,
): Promise<Joined> {
  if (config.internal && request.ports.length > 0) {
    throw new HutchError(`network ${config.name} is internal: it cannot publish ports`, {
      hint: 'leave out -p/-P, or use a network created without --internal',
    });
  }
  const unlock = await lockNetwork(runtime, config.name);
  try {
    let state = readNetworkRuntime(runtime, config.name);
    if (!running(state, config)) {
      if (state !== undefined) await stopNetwork(runtime, state);
      state = await startNetwork(config, runtime);
      writeState(runtime, state);
    }
    await pruneMembers(state);
    const subnet = parseCidr(config.subnet, 1, 32) as Cidr;
    const address = allocateAddress(config, state);
    const veth = `vh${request.containerId.slice(0, 12)}`;
    const mtu = mtuOf(config);
    const pidStartTime = startTimeOf(request.pid);
    if (pidStartTime === undefined) throw new HutchError(`the container's process ${request.pid} is gone`);
    let forwardIds: number[] = [];
    try {
      await ipBatch(
        netnsOf(state.holder.pid),
        [
          `link add ${veth} mtu ${mtu} type veth peer name eth0 mtu ${mtu} netns ${request.pid}`,
          `link set ${veth} master ${BRIDGE} up`,
        ],
        `network ${config.name}: connect the container`,
      );
      const others = listNetworks(storage)
        .filter((n) => n.name !== config.name)
        .map((n) => n.subnet);
      await ipBatch(
        netnsOf(request.pid),
        [
          'link set lo up',
          'link set eth0 up',
          `addr add ${address}/${subnet.prefix} dev eth0`,
          ...(config.internal ? [] : [`route add default via ${config.gateway}`]),
          ...isolationRoutes(subnet, others),
        ],
        `network ${config.name}: configure the container's eth0`,
      );
      if (state.apiSocket !== undefined && request.ports.length > 0) {
        forwardIds = await addForwards(state.apiSocket, request.ports, address);
      }
    } catch (error) {
      if (state.apiSocket !== undefined) await removeForwards(state.apiSocket, forwardIds);
      await ipBatchQuiet(netnsOf(state.holder.pid), [`link del ${veth}`]);
      if (Object.keys(state.members).length === 0) await stopNetwork(runtime, state);
      else writeState(runtime, state);
      throw error;
    }
    state.members[request.containerId] = {
      containerId: request.containerId,
      name: request.name,
      hostname: request.hostname,
      aliases: request.aliases,
      address,
      veth,
      hostsFile: request.hostsFile,
      baseHosts: request.baseHosts(address),
      pid: request.pid,
      pidStartTime,
      ports: request.ports,
      forwardIds,
    };
    writeState(runtime, state);
    rewriteHosts(state);
    return {
      address,
      prefix: subnet.prefix,
      gateway: config.internal ? undefined : config.gateway,
      forwardIds,
    };
  } finally {
    unlock();
  }
}

/**
 * Takes the container off the network: its forwards, its veth, its name in
 * the others' /etc/hosts; stops the network after its last member.
 * Idempotent.
 */
export async function leaveNetwork(runtime: string, name: string, containerId: string): Promise<void> {
  const unlock = await lockNetwork(runtime, name);
  try {
    const state = readNetworkRuntime(runtime, name);
    if (state === undefined) return;
    const member = state.members[containerId];
    if (member !== undefined) {
      if (state.apiSocket !== undefined && state.slirp !== undefined && isAlive(state.slirp)) {
        await removeForwards(state.apiSocket, member.forwardIds);
      }
      if (isAlive(state.holder)) await ipBatchQuiet(netnsOf(state.holder.pid), [`link del ${member.veth}`]);
      delete state.members[containerId];
    }
    await pruneMembers(state);
    if (Object.keys(state.members).length === 0) {
      await stopNetwork(runtime, state);
      return;
    }
    writeState(runtime, state);
    rewriteHosts(state);
  } finally {
    unlock();
  }
}

/** The members whose process runs (for `network inspect` and `network rm`). */
export function liveMembers(runtime: string, name: string): Member[] {
  const state = readNetworkRuntime(runtime, name);
  if (state === undefined) return [];
  return Object.values(state.members).filter((m) => startTimeOf(m.pid) === m.pidStartTime);
}

/** Stops a network's holder and slirp4netns whatever its members (network rm -f). */
export async function stopNetworkNow(runtime: string, name: string): Promise<void> {
  const unlock = await lockNetwork(runtime, name);
  try {
    const state = readNetworkRuntime(runtime, name);
    if (state !== undefined) await stopNetwork(runtime, state);
  } finally {
    unlock();
  }
}

/** The network's side of a member's /etc files: its gateway and DNS (an internal network has neither). */
function networkEtc(config: NetworkConfig, host: { resolvConf: string }) {
  return {
    hostGateway: !config.internal && config.options.allow_host_loopback === 'true' ? config.gateway : undefined,
    nameservers: config.internal ? reachableNameservers(host.resolvConf) : [config.dns],
  };
}

function configOf(request: NetworkRequest, storage: string): NetworkConfig {
  return findNetwork(storage, request.target ?? '');
}

/** --network NAME: a member of a user-defined network. */
export const bridgeDriver: ModeDriver = {
  namespace: () => ({ mode: 'new' }),

  etc(request, ctx, host) {
    // The address is given when the container joins: attach rewrites the file with it.
    return etcFiles(request, ctx, host, { address: undefined, ...networkEtc(configOf(request, ctx.storage), host) });
  },

  async attach(request, ctx): Promise<NetworkState> {
    const config = configOf(request, ctx.storage);
    const ports = await resolvePorts(request.publish);
    const host = readHostFiles();
    const joined = await joinNetwork(config, ctx.storage, ctx.runtime, {
      containerId: ctx.containerId,
      name: ctx.name,
      hostname: ctx.hostname,
      aliases: request.aliases ?? [],
      pid: ctx.pid,
      hostsFile: ctx.hostsFile,
      baseHosts: (address) => etcFiles(request, ctx, host, { address, ...networkEtc(config, host) }).hosts,
      ports,
    });
    const state = readNetworkRuntime(ctx.runtime, config.name);
    return {
      mode: 'network',
      containerId: ctx.containerId,
      address: joined.address,
      ...(networkEtc(config, host).hostGateway !== undefined ? { gateway: config.gateway } : {}),
      ports,
      ...(state?.apiSocket !== undefined ? { apiSocket: state.apiSocket } : {}),
      network: { name: config.name, runtime: ctx.runtime },
    };
  },

  async detach(state) {
    if (state.network !== undefined) await leaveNetwork(state.network.runtime, state.network.name, state.containerId);
  },
};
