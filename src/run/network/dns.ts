/**
 * The text of a container's /etc/hosts and /etc/resolv.conf, as podman writes
 * them: --add-host entries first (the first match wins for most resolvers, so
 * they override what follows), the host's /etc/hosts entries (podman's
 * base_hosts_file default), localhost when the host's file lacks it, the
 * container's own address with its host name and name, the host's names when
 * it is reachable, then the other members of a user-defined network. Pure:
 * the callers read the host's files and write the results.
 */
import { isIP } from 'node:net';
import { HutchError } from '../../errors.js';

export interface HostEntry {
  address: string;
  names: string[];
}

export interface ResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
}

/** The names /etc/hosts gives the host when a container may reach it (podman's). */
export const HOST_NAME = 'host.containers.internal';
export const HOST_NAMES: readonly string[] = [HOST_NAME, 'host.docker.internal'];
/** --add-host NAME:host-gateway: the address the container reaches the host's loopback at. */
export const HOST_GATEWAY = 'host-gateway';

const HOSTNAME = /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;

/** `name:ip` (ip may be IPv6, or host-gateway) → an entry; HutchError for anything else. */
export function parseAddHost(value: string): HostEntry {
  const colon = value.indexOf(':');
  const name = colon < 0 ? '' : value.slice(0, colon);
  let address = colon < 0 ? '' : value.slice(colon + 1);
  if (address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1);
  const fail = (why: string) =>
    new HutchError(`invalid --add-host ${JSON.stringify(value)}: ${why}`, {
      hint: 'use NAME:IP, e.g. --add-host db:10.0.2.2 or --add-host myhost:host-gateway',
    });
  if (colon < 0) throw fail('no IP address after the name');
  if (!HOSTNAME.test(name) || name.length > 253) throw fail(`${JSON.stringify(name)} is not a host name`);
  if (address !== HOST_GATEWAY && isIP(address) === 0) throw fail(`${JSON.stringify(address)} is not an IP address`);
  return { address, names: [name] };
}

export function checkDnsServer(value: string): string {
  if (isIP(value) === 0) {
    throw new HutchError(`invalid --dns ${JSON.stringify(value)}: not an IP address`, {
      hint: 'give the address of a DNS server, e.g. --dns 10.0.2.3',
    });
  }
  return value;
}

/** A resolv.conf option as --dns-option gives it (ndots:2, timeout:1, rotate). */
export function checkDnsOption(value: string): string {
  if (!/^[A-Za-z0-9_-]+(:[A-Za-z0-9_.-]+)?$/.test(value)) {
    throw new HutchError(`invalid --dns-option ${JSON.stringify(value)}`, {
      hint: 'give a resolv.conf(5) option, e.g. ndots:2 or timeout:1',
    });
  }
  return value;
}

/** --network-alias: a host name the other members of the network resolve to this container. */
export function checkAlias(value: string): string {
  if (!HOSTNAME.test(value) || value.length > 253) {
    throw new HutchError(`invalid --network-alias ${JSON.stringify(value)}: not a host name`, {
      hint: 'letters, digits, _ . and -, e.g. --network-alias db',
    });
  }
  return value;
}

export function checkDnsSearch(value: string): string {
  if (value !== '.' && (!HOSTNAME.test(value) || value.length > 253)) {
    throw new HutchError(`invalid --dns-search ${JSON.stringify(value)}: not a domain name`, {
      hint: 'give a domain, e.g. --dns-search example.com (or . for none)',
    });
  }
  return value;
}

/** nameserver, search/domain and options lines of a resolv.conf(5). */
export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0] !== undefined) conf.nameservers.push(rest[0]);
    // The last search or domain line wins (resolv.conf(5)).
    else if (key === 'search' || key === 'domain') conf.search = rest;
    else if (key === 'options') conf.options.push(...rest);
  }
  return conf;
}

export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}

/** The host's nameservers a container in a network namespace of its own can use: loopback ones answer only on the host. */
export function reachableNameservers(resolvConf: string): string[] {
  return parseResolvConf(resolvConf).nameservers.filter((server) => !isLoopback(server));
}

/** The entries of a hosts(5) file, comments dropped, in order. */
export function parseHosts(text: string): HostEntry[] {
  const entries: HostEntry[] = [];
  for (const raw of text.split('\n')) {
    const [address, ...names] = raw.replace(/#.*$/, '').trim().split(/\s+/);
    if (address === undefined || names.length === 0 || isIP(address) === 0) continue;
    entries.push({ address, names });
  }
  return entries;
}

export function renderResolvConf(conf: ResolvConf): string {
  const lines: string[] = [];
  const search = conf.search.filter((s) => s !== '.');
  if (search.length > 0) lines.push(`search ${search.join(' ')}`);
  for (const server of conf.nameservers) lines.push(`nameserver ${server}`);
  if (conf.options.length > 0) lines.push(`options ${conf.options.join(' ')}`);
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/**
 * The container's resolv.conf: --dns replaces the servers, --dns-search the
 * search list (`.` empties it), --dns-option the options (else the host's are
 * kept).
 */
export function containerResolvConf(
  host: ResolvConf,
  defaults: { nameservers: string[] },
  flags: { dns: string[]; dnsSearch: string[]; dnsOptions?: string[] | undefined },
): string {
  const options = flags.dnsOptions ?? [];
  return renderResolvConf({
    nameservers: flags.dns.length > 0 ? flags.dns : defaults.nameservers,
    search: flags.dnsSearch.length > 0 ? flags.dnsSearch : host.search,
    options: options.length > 0 ? options : host.options,
  });
}

export const LOCALHOST_ENTRIES: readonly HostEntry[] = [
  { address: '127.0.0.1', names: ['localhost', 'localhost.localdomain', 'localhost4', 'localhost4.localdomain4'] },
  { address: '::1', names: ['localhost', 'localhost.localdomain', 'localhost6', 'localhost6.localdomain6'] },
];

export function renderHosts(entries: HostEntry[]): string {
  return entries
    .filter((e) => e.names.length > 0)
    .map((e) => `${e.address}\t${e.names.join(' ')}\n`)
    .join('');
}

/** hostname, then name when it differs, then its network aliases: the names a container answers to. */
export function ownNames(hostname: string, name: string, aliases: readonly string[] = []): string[] {
  const names = name === hostname || name === '' ? [hostname] : [hostname, name];
  for (const alias of aliases) if (!names.includes(alias)) names.push(alias);
  return names;
}

/**
 * The base of a container's hosts file: --add-host entries, the host's
 * entries, localhost (when the host's lack it), its own address (127.0.1.1
 * when it has none to give), the host when reachable. hostGateway replaces
 * `host-gateway` in --add-host; without one such an entry is refused.
 */
export function containerHosts(options: {
  addHost: HostEntry[];
  hostEntries: HostEntry[];
  hostname: string;
  name: string;
  /** --network-alias: its own names on its network too. */
  aliases?: readonly string[] | undefined;
  address: string | undefined;
  hostGateway: string | undefined;
}): HostEntry[] {
  const entries: HostEntry[] = options.addHost.map((entry) => {
    if (entry.address !== HOST_GATEWAY) return entry;
    if (options.hostGateway === undefined) {
      throw new HutchError(`--add-host ${entry.names.join(',')}:host-gateway: the host is not reachable`, {
        hint: 'host-gateway needs a network that reaches the host: --network slirp4netns:allow_host_loopback=true',
      });
    }
    return { address: options.hostGateway, names: entry.names };
  });
  entries.push(...options.hostEntries);
  if (!options.hostEntries.some((e) => e.names.includes('localhost'))) entries.push(...LOCALHOST_ENTRIES);
  entries.push({
    address: options.address ?? '127.0.1.1',
    names: ownNames(options.hostname, options.name, options.aliases),
  });
  if (options.hostGateway !== undefined) entries.push({ address: options.hostGateway, names: [...HOST_NAMES] });
  return entries;
}

/** A comment line that separates a hosts file's own part from the peers hutch keeps up to date. */
export const PEERS_MARKER = '# hutch network peers (rewritten when a container joins or leaves)';

/** base, then the other containers of the networks, by address. */
export function hostsWithPeers(base: string, peers: HostEntry[]): string {
  if (peers.length === 0) return base;
  return `${base}${PEERS_MARKER}\n${renderHosts(peers)}`;
}

/** The flags a container's /etc files depend on (NetworkRequest's). */
export interface EtcFlags {
  addHost: string[];
  dns: string[];
  dnsSearch: string[];
  dnsOptions?: string[] | undefined;
  aliases?: string[] | undefined;
}

/**
 * /etc/hosts and /etc/resolv.conf of a container with a network namespace of
 * its own: its address (none: 127.0.1.1), where it reaches the host (none:
 * unreachable), and the DNS servers of its network.
 */
export function etcFiles(
  flags: EtcFlags,
  who: { hostname: string; name: string },
  host: { hosts: string; resolvConf: string },
  net: { address: string | undefined; hostGateway: string | undefined; nameservers: string[] },
): { hosts: string; resolvConf: string } {
  const hosts = renderHosts(
    containerHosts({
      addHost: flags.addHost.map(parseAddHost),
      hostEntries: parseHosts(host.hosts),
      hostname: who.hostname,
      name: who.name,
      aliases: flags.aliases,
      address: net.address,
      hostGateway: net.hostGateway,
    }),
  );
  const resolvConf = containerResolvConf(parseResolvConf(host.resolvConf), { nameservers: net.nameservers }, flags);
  return { hosts, resolvConf };
}
