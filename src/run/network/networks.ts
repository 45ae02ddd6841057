/**
 * User-defined networks on disk: one JSON file each, `<storage>/networks/<name>.json`,
 * written once at create (temp + rename) under `<storage>/networks/.lock`.
 * What runs for a network (its namespace holder, its slirp4netns, its members)
 * is runtime state, kept by bridge.ts under `<runtime>/networks/<name>/`.
 *
 * Subnets come from 10.89.0.0/16 in /24s, as podman's rootless networks do;
 * each lives only inside the namespaces hutch creates (the holder's bridge
 * and the members' veths). On it, libslirp's fixed offsets: .2 is the
 * gateway (the host, through slirp4netns), .3 its DNS forwarder; containers
 * get addresses from .10 up.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HutchError } from '../../errors.js';
import { acquireLock } from '../../fs/lock.js';
import { addressAt, formatCidr, overlaps, parseCidr, type Cidr } from './cidr.js';

export const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** Where subnets are taken from when none is given; members cannot reach any of it but their own subnet. */
export const DEFAULT_POOL = '10.89.0.0/16';
/** Names that are --network modes, not networks. */
const RESERVED = new Set(['none', 'host', 'slirp4netns', 'pasta', 'bridge', 'private', 'container', 'ns', 'default']);
const NETWORK_OPTIONS = new Set(['allow_host_loopback', 'mtu']);

export interface NetworkConfig {
  name: string;
  id: string;
  driver: 'bridge';
  subnet: string;
  /** The members' default route and the host's loopback (when allowed): subnet + 2, slirp4netns's address. */
  gateway: string;
  /** slirp4netns's DNS forwarder: subnet + 3. */
  dns: string;
  /** No slirp4netns: members reach each other and nothing else. */
  internal: boolean;
  /** allow_host_loopback=true|false, mtu=N. */
  options: Record<string, string>;
  labels: Record<string, string>;
  created: string;
}

export interface CreateNetworkOptions {
  name?: string;
  subnet?: string;
  internal: boolean;
  options: Record<string, string>;
  labels: Record<string, string>;
  /** Return the existing network instead of failing (podman's --ignore). */
  ignoreIfExists: boolean;
}

export function networksDir(storage: string): string {
  return join(storage, 'networks');
}

export function networkFile(storage: string, name: string): string {
  return join(networksDir(storage), `${name}.json`);
}

export function readNetwork(storage: string, name: string): NetworkConfig | undefined {
  if (!NETWORK_NAME.test(name)) return undefined;
  try {
    return JSON.parse(readFileSync(networkFile(storage, name), 'utf8')) as NetworkConfig;
  } catch {
    return undefined;
  }
}

export function listNetworks(storage: string): NetworkConfig[] {
  let names: string[];
  try {
    names = readdirSync(networksDir(storage));
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .map((n) => readNetwork(storage, n.slice(0, -5)))
    .filter((n): n is NetworkConfig => n !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** By name, full id or unique id prefix; HutchError in podman's words when none matches. */
export function findNetwork(storage: string, nameOrId: string): NetworkConfig {
  const byName = readNetwork(storage, nameOrId);
  if (byName !== undefined) return byName;
  const all = listNetworks(storage);
  const byId = /^[a-f0-9]{3,64}$/.test(nameOrId) ? all.filter((n) => n.id.startsWith(nameOrId)) : [];
  if (byId.length === 1) return byId[0] as NetworkConfig;
  if (byId.length > 1) throw new HutchError(`more than one network matches the id prefix ${nameOrId}`);
  throw new HutchError(`unable to find network with name or ID ${nameOrId}: network not found`, {
    hint: 'hutch network ls lists the networks',
  });
}

export function checkNetworkOptions(options: Record<string, string>): void {
  for (const [key, value] of Object.entries(options)) {
    if (!NETWORK_OPTIONS.has(key)) {
      throw new HutchError(`unsupported network option ${JSON.stringify(key)}`, {
        hint: `use ${[...NETWORK_OPTIONS].join(', ')} (-o allow_host_loopback=true)`,
      });
    }
    if (key === 'allow_host_loopback' && value !== 'true' && value !== 'false') {
      throw new HutchError(`invalid network option allow_host_loopback=${value}`, { hint: 'give true or false' });
    }
    if (key === 'mtu' && (!/^\d+$/.test(value) || Number(value) < 68 || Number(value) > 65521)) {
      throw new HutchError(`invalid network option mtu=${value}`, { hint: 'give a number from 68 to 65521' });
    }
  }
}

/** The first /24 of the pool no network uses. */
function freeSubnet(taken: Cidr[]): Cidr {
  const pool = parseCidr(DEFAULT_POOL, 1, 32) as Cidr;
  for (let i = 0; i < 256; i++) {
    const candidate = { network: addressAt(pool, i * 256), prefix: 24 };
    if (!taken.some((t) => overlaps(t, candidate))) return candidate;
  }
  throw new HutchError(`every /24 of ${DEFAULT_POOL} is used by a network`, {
    hint: 'remove networks you no longer need (hutch network rm), or give --subnet',
  });
}

function writeJson(path: string, value: unknown): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(temp, path);
}

export async function createNetwork(storage: string, options: CreateNetworkOptions): Promise<NetworkConfig> {
  checkNetworkOptions(options.options);
  mkdirSync(networksDir(storage), { recursive: true, mode: 0o700 });
  const release = await acquireLock(join(networksDir(storage), '.lock'));
  try {
    const all = listNetworks(storage);
    let name = options.name;
    if (name !== undefined) {
      if (!NETWORK_NAME.test(name) || name.length > 200) {
        throw new HutchError(`invalid network name ${JSON.stringify(name)}`, {
          hint: 'names are letters, digits, and _ . - (not first)',
        });
      }
      if (RESERVED.has(name)) {
        throw new HutchError(`cannot create a network named ${name}: it is a --network mode`, {
          hint: 'choose another name',
        });
      }
      const existing = all.find((n) => n.name === name);
      if (existing !== undefined) {
        if (options.ignoreIfExists) return existing;
        throw new HutchError(`network name ${name} already used: network already exists`, {
          hint: `remove it first (hutch network rm ${name}), or pass --ignore`,
        });
      }
    } else {
      let n = 1;
      while (all.some((net) => net.name === `hutch${n}`)) n++;
      name = `hutch${n}`;
    }
    const taken = all.map((n) => parseCidr(n.subnet, 1, 32)).filter((c): c is Cidr => c !== undefined);
    let subnet: Cidr;
    if (options.subnet !== undefined) {
      const parsed = parseCidr(options.subnet, 8, 25);
      if (parsed === undefined) {
        throw new HutchError(`invalid --subnet ${options.subnet}: not an IPv4 network with a prefix of 8 to 25`, {
          hint: 'e.g. --subnet 10.89.5.0/24',
        });
      }
      const clash = all.find((n) => {
        const other = parseCidr(n.subnet, 1, 32);
        return other !== undefined && overlaps(other, parsed);
      });
      if (clash !== undefined) {
        throw new HutchError(
          `subnet ${formatCidr(parsed)} overlaps the subnet ${clash.subnet} of network ${clash.name}`,
          {
            hint: 'give a subnet no other network uses, or leave --subnet out',
          },
        );
      }
      subnet = parsed;
    } else {
      subnet = freeSubnet(taken);
    }
    const config: NetworkConfig = {
      name,
      id: randomBytes(32).toString('hex'),
      driver: 'bridge',
      subnet: formatCidr(subnet),
      gateway: addressAt(subnet, 2),
      dns: addressAt(subnet, 3),
      internal: options.internal,
      options: options.options,
      labels: options.labels,
      created: new Date().toISOString(),
    };
    writeJson(networkFile(storage, name), config);
    return config;
  } finally {
    release();
  }
}

/** Removes the network's file. The caller checks first that no container uses it. */
export async function deleteNetwork(storage: string, name: string): Promise<void> {
  if (!existsSync(networksDir(storage))) return;
  const release = await acquireLock(join(networksDir(storage), '.lock'));
  try {
    rmSync(networkFile(storage, name), { force: true });
  } finally {
    release();
  }
}
