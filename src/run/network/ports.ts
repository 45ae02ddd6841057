/**
 * Published ports: `-p [IP:][HOSTPORT:]CTRPORT[/tcp|udp]` with podman's
 * meaning, `-P` from the image's EXPOSE, the host's unprivileged port floor,
 * and the host-side checks that turn "the helper could not bind" into a line
 * naming the port.
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer, isIPv4, isIPv6 } from 'node:net';
import { HutchError } from '../../errors.js';

export type Protocol = 'tcp' | 'udp';

/** One host port forwarded to one container port. */
export interface PortMapping {
  /** The host address to bind: '' for every address (0.0.0.0). */
  hostIp: string;
  /** 0: a free port is chosen when the container starts. */
  hostPort: number;
  containerPort: number;
  protocol: Protocol;
}

/** A mapping as it was bound: the host port is known. */
export interface PublishedPort extends PortMapping {
  hostPort: number;
}

/** A publish spec's ranges are expanded to one mapping per port; more than this is refused. */
export const MAX_PUBLISHED_PORTS = 4096;

function bad(spec: string, why: string, hint?: string): HutchError {
  return new HutchError(`invalid -p ${JSON.stringify(spec)}: ${why}`, {
    hint:
      hint ?? 'use [IP:][HOSTPORT:]CTRPORT[/tcp|udp], e.g. -p 8080:80, -p 127.0.0.1:8080:80/tcp, -p 8000-8001:80-81',
  });
}

/** `80` or `8000-8010` → [first, last]; undefined for an empty text. */
function parseRange(spec: string, text: string, what: string): [number, number] | undefined {
  if (text === '') return undefined;
  const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (match === null) throw bad(spec, `${what} ${JSON.stringify(text)} is not a port or a range of ports`);
  const first = Number(match[1]);
  const last = match[2] === undefined ? first : Number(match[2]);
  for (const port of [first, last]) {
    if (port < 1 || port > 65535) throw bad(spec, `${what} ${port} is out of range (1-65535)`);
  }
  if (last < first) throw bad(spec, `${what} range ${text} ends before it starts`);
  return [first, last];
}

/** Splits `IP:HOST:CTR` where IP may be `[v6]` or a bare IPv4 address. */
function splitSpec(spec: string, body: string): { ip: string; host: string; container: string } {
  let ip = '';
  let rest = body;
  if (rest.startsWith('[')) {
    const end = rest.indexOf(']');
    if (end < 0 || rest[end + 1] !== ':') throw bad(spec, 'an IPv6 address in [ ] must be followed by :');
    ip = rest.slice(1, end);
    rest = rest.slice(end + 2);
    const parts = rest.split(':');
    if (parts.length !== 2) throw bad(spec, 'after [IP]: give HOSTPORT:CTRPORT (HOSTPORT may be empty)');
    return { ip, host: parts[0] as string, container: parts[1] as string };
  }
  const parts = rest.split(':');
  if (parts.length === 1) return { ip, host: '', container: parts[0] as string };
  if (parts.length === 2) return { ip, host: parts[0] as string, container: parts[1] as string };
  if (parts.length === 3) return { ip: parts[0] as string, host: parts[1] as string, container: parts[2] as string };
  throw bad(spec, 'too many colons (write an IPv6 address in brackets: [::1]:8080:80)');
}

/**
 * Parses one `-p` value into mappings, one per port of its ranges. Ranges
 * must be as long on both sides; a container port or range without a host
 * port gets free host ports at start.
 */
export function parsePublish(spec: string): PortMapping[] {
  let body = spec.trim();
  let protocols: Protocol[] = ['tcp'];
  const slash = body.lastIndexOf('/');
  if (slash >= 0) {
    const names = body
      .slice(slash + 1)
      .toLowerCase()
      .split(',');
    body = body.slice(0, slash);
    protocols = [];
    for (const name of names) {
      if (name !== 'tcp' && name !== 'udp') {
        throw bad(spec, `protocol ${JSON.stringify(name)} is not supported`, 'use /tcp or /udp (or /tcp,udp)');
      }
      if (!protocols.includes(name)) protocols.push(name);
    }
  }
  if (body === '') throw bad(spec, 'no container port');
  const { ip, host, container } = splitSpec(spec, body);
  if (ip !== '' && ip !== '0.0.0.0' && !isIPv4(ip) && !isIPv6(ip)) {
    throw bad(spec, `${JSON.stringify(ip)} is not an IP address`);
  }
  const ctr = parseRange(spec, container, 'container port');
  if (ctr === undefined) throw bad(spec, 'no container port');
  const hostRange = parseRange(spec, host, 'host port');
  const count = ctr[1] - ctr[0] + 1;
  if (hostRange !== undefined && hostRange[1] - hostRange[0] + 1 !== count) {
    throw bad(
      spec,
      `the host range ${host} has ${hostRange[1] - hostRange[0] + 1} ports, the container range ${container} ${count}`,
      'give ranges of the same length (-p 8000-8001:80-81), or leave out the host port',
    );
  }
  if (count * protocols.length > MAX_PUBLISHED_PORTS) {
    throw bad(spec, `${count * protocols.length} ports: at most ${MAX_PUBLISHED_PORTS} may be published`);
  }
  const mappings: PortMapping[] = [];
  for (const protocol of protocols) {
    for (let i = 0; i < count; i++) {
      mappings.push({
        hostIp: ip === '0.0.0.0' ? '' : ip,
        hostPort: hostRange === undefined ? 0 : hostRange[0] + i,
        containerPort: ctr[0] + i,
        protocol,
      });
    }
  }
  return mappings;
}

/** `80/tcp`, `53/udp`, `8080` (an image's ExposedPorts keys) → mappings to free host ports (-P). */
export function exposedMappings(exposed: string[]): PortMapping[] {
  const mappings: PortMapping[] = [];
  for (const key of exposed) {
    const match = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/(tcp|udp|sctp))?$/i.exec(key.trim());
    if (match === null) continue; // podman ignores what it cannot read
    const protocol = (match[3] ?? 'tcp').toLowerCase();
    if (protocol === 'sctp') continue;
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    for (let port = first; port <= last && port <= 65535; port++) {
      if (port >= 1) mappings.push({ hostIp: '', hostPort: 0, containerPort: port, protocol: protocol as Protocol });
    }
  }
  return mappings;
}

/** -p mappings first, then -P's for container ports -p did not publish. Refuses a host port given twice. */
export function combinePublished(explicit: PortMapping[], all: PortMapping[]): PortMapping[] {
  const result = [...explicit];
  const taken = new Set(explicit.map((m) => `${m.containerPort}/${m.protocol}`));
  for (const mapping of all) if (!taken.has(`${mapping.containerPort}/${mapping.protocol}`)) result.push(mapping);
  const hostPorts = new Map<string, PortMapping>();
  for (const mapping of result) {
    if (mapping.hostPort === 0) continue;
    const key = `${mapping.hostPort}/${mapping.protocol}`;
    const other = hostPorts.get(key);
    if (other !== undefined && (other.hostIp === '' || mapping.hostIp === '' || other.hostIp === mapping.hostIp)) {
      throw new HutchError(
        `host port ${key} is published twice (to ${other.containerPort} and ${mapping.containerPort})`,
        { hint: 'give each published host port once' },
      );
    }
    hostPorts.set(key, mapping);
  }
  return result;
}

/** net.ipv4.ip_unprivileged_port_start as the host's network namespace has it (1024 when unreadable). */
export function unprivilegedPortStart(read: (path: string) => string = (p) => readFileSync(p, 'utf8')): number {
  try {
    const value = Number(read('/proc/sys/net/ipv4/ip_unprivileged_port_start').trim());
    return Number.isInteger(value) && value >= 0 ? value : 1024;
  } catch {
    return 1024;
  }
}

/** Refuses host ports below the unprivileged floor (real root may bind them). */
export function checkPrivilegedPorts(mappings: PortMapping[], floor: number, root: boolean): void {
  if (root) return;
  const low = mappings.filter((m) => m.hostPort !== 0 && m.hostPort < floor);
  if (low.length === 0) return;
  const lowest = Math.min(...low.map((m) => m.hostPort));
  const first = low[0] as PortMapping;
  const suggestion = first.hostPort + 8000 >= floor && first.hostPort + 8000 <= 65535 ? first.hostPort + 8000 : floor;
  throw new HutchError(
    `cannot publish host port ${first.hostPort}/${first.protocol}: ports below ${floor} need root on this host (net.ipv4.ip_unprivileged_port_start=${floor})`,
    {
      hint: `publish a host port of ${floor} or above (-p ${suggestion}:${first.containerPort}), or as root: sysctl -w net.ipv4.ip_unprivileged_port_start=${lowest}`,
    },
  );
}

/** podman's `hutch port` lines: `80/tcp -> 0.0.0.0:8080`. */
export function formatPort(port: PublishedPort): string {
  const ip = port.hostIp === '' ? '0.0.0.0' : isIPv6(port.hostIp) ? `[${port.hostIp}]` : port.hostIp;
  return `${port.containerPort}/${port.protocol} -> ${ip}:${port.hostPort}`;
}

/** The host address a mapping binds, as node's listen() takes it. */
export function bindAddress(mapping: PortMapping): string {
  return mapping.hostIp === '' ? '0.0.0.0' : mapping.hostIp;
}

/**
 * Binds the host port for a moment: a port someone else holds is refused
 * here with its number, where the helper would only say it failed. Port 0
 * picks a free one. Returns the port bound. Runs in the host's network
 * namespace (the session has none of its own).
 */
export async function reservePort(mapping: PortMapping): Promise<number> {
  const address = bindAddress(mapping);
  const bound = await new Promise<number>((resolve, reject) => {
    if (mapping.protocol === 'udp') {
      const socket = createSocket(isIPv6(address) ? 'udp6' : 'udp4');
      socket.once('error', (error) => {
        socket.close();
        reject(error);
      });
      socket.bind(mapping.hostPort, address, () => {
        const { port } = socket.address();
        socket.close(() => resolve(port));
      });
    } else {
      const server = createServer();
      server.once('error', reject);
      // exclusive: a port another process of ours listens on counts as taken.
      server.listen({ port: mapping.hostPort, host: address, exclusive: true }, () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    }
  }).catch((error: NodeJS.ErrnoException) => {
    const what = `${address}:${mapping.hostPort}/${mapping.protocol}`;
    if (error.code === 'EADDRINUSE') {
      throw new HutchError(`cannot publish ${what}: the port is already in use on the host`, {
        hint: `choose another host port (-p ${mapping.hostPort + 1}:${mapping.containerPort}), or stop what listens there (ss -ltnup 'sport = ${mapping.hostPort}')`,
        cause: error,
      });
    }
    if (error.code === 'EADDRNOTAVAIL') {
      throw new HutchError(`cannot publish ${what}: ${address} is not an address of this host`, {
        hint: 'give an address the host has (ip addr), or leave the IP out to bind every address',
        cause: error,
      });
    }
    if (error.code === 'EACCES') {
      throw new HutchError(`cannot publish ${what}: binding the port needs privileges`, {
        hint: `as root: sysctl -w net.ipv4.ip_unprivileged_port_start=${mapping.hostPort}`,
        cause: error,
      });
    }
    throw new HutchError(`cannot publish ${what}: ${error.message}`, { cause: error });
  });
  return bound;
}

/** Reserves every mapping in turn, choosing free ports (each once) for those without one. */
export async function resolvePorts(mappings: PortMapping[]): Promise<PublishedPort[]> {
  const result: PublishedPort[] = [];
  const chosen = new Set<string>();
  for (const mapping of mappings) {
    let port = await reservePort(mapping);
    // The kernel may hand out a port it gave us a moment ago: ask again.
    for (let tries = 0; mapping.hostPort === 0 && chosen.has(`${port}/${mapping.protocol}`) && tries < 20; tries++) {
      port = await reservePort(mapping);
    }
    chosen.add(`${port}/${mapping.protocol}`);
    result.push({ ...mapping, hostPort: port });
  }
  return result;
}

/**
 * At create: each host port given with -p is free now (bound for a moment),
 * so a port in use is refused before a container exists. The start binds
 * again (the port may have been taken between the two).
 */
export async function checkPortsFree(mappings: PortMapping[]): Promise<void> {
  for (const mapping of mappings) if (mapping.hostPort !== 0) await reservePort(mapping);
}

/** Mappings as inspect shows them (NetworkSettings.Ports, HostConfig.PortBindings): `80/tcp` → [{HostIp, HostPort}]. */
export function portMap(mappings: PortMapping[]): Record<string, { HostIp: string; HostPort: string }[]> {
  const map: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const m of mappings) {
    const key = `${m.containerPort}/${m.protocol}`;
    (map[key] ??= []).push({ HostIp: m.hostIp, HostPort: m.hostPort === 0 ? '' : String(m.hostPort) });
  }
  return map;
}
