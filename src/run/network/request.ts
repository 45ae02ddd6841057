/**
 * `--network`, `--network-alias`, `-p`, `-P`, `--dns`, `--dns-search`,
 * `--dns-option` and `--add-host`, with
 * podman's names and meaning, checked and turned into a NetworkRequest: the
 * plain, JSON-serializable description a container keeps in its config and
 * every start attaches from. Everything a user can get wrong is refused here,
 * before a container exists, as one HutchError (exit 125) with its fix.
 */
import { existsSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { HutchError } from '../../errors.js';
import { currentIdentity } from '../../host/identity.js';
import { parseCidr } from './cidr.js';
import { checkAlias, checkDnsOption, checkDnsSearch, checkDnsServer, HOST_GATEWAY, parseAddHost } from './dns.js';
import { networkFile, NETWORK_NAME } from './networks.js';
import {
  checkPrivilegedPorts,
  combinePublished,
  exposedMappings,
  parsePublish,
  unprivilegedPortStart,
  type PortMapping,
} from './ports.js';
import { DEFAULT_NETWORK_MODE } from './probe.js';
import { checkTapHelper, type NetworkHost } from './tap.js';

export type NetworkMode = 'slirp4netns' | 'pasta' | 'none' | 'host' | 'container' | 'network';

export interface NetworkRequest {
  mode: NetworkMode;
  /** container:NAME's container (name or id), or the user-defined network's name. */
  target?: string;
  /**
   * hutch's options for the mode, key=value as podman spells them:
   * slirp4netns: allow_host_loopback, mtu, cidr, port_handler, enable_ipv6,
   * outbound_addr, outbound_addr6; pasta: allow_host_loopback, mtu.
   */
  options: Record<string, string>;
  /** pasta: its own command-line options given after `pasta:` (podman's form), passed on as they are. */
  pastaArgs: string[];
  /** -p, then -P's ports (host port 0: chosen at start). */
  publish: PortMapping[];
  publishAll: boolean;
  dns: string[];
  dnsSearch: string[];
  /** --dns-option: resolv.conf's options, replacing the host's (absent in containers made before it). */
  dnsOptions?: string[];
  /** --add-host NAME:IP, checked. */
  addHost: string[];
  /** --network-alias: more names the other members of its network find it by (absent: none). */
  aliases?: string[];
}

export interface NetworkFlags {
  /** --network (and --net): one mode or network; NAME,NAME (podman's list) is refused with more than one. */
  network?: string;
  publish: string[];
  publishAll: boolean;
  dns: string[];
  dnsSearch: string[];
  dnsOptions?: string[];
  addHost: string[];
  aliases?: string[];
}

/** What the checks need from the host; read from it when not given (tests give it). */
export interface RequestHost extends NetworkHost {
  /** Real root: host ports below the unprivileged floor may be published. */
  root: boolean;
  unprivilegedPortStart: number;
  /** When given, --network NAME must name an existing network. */
  storage?: string;
}

export function currentRequestHost(extra: { storage?: string } = {}): RequestHost {
  return {
    pathVar: process.env.PATH,
    root: currentIdentity(process.env).root,
    unprivilegedPortStart: unprivilegedPortStart(),
    ...extra,
  };
}

const MODES_HINT =
  'use slirp4netns[:opts], pasta[:opts], none, host, container:NAME, or the name of a network (hutch network ls)';

const SLIRP_OPTIONS = new Set([
  'allow_host_loopback',
  'mtu',
  'cidr',
  'port_handler',
  'enable_ipv6',
  'outbound_addr',
  'outbound_addr6',
]);
const PASTA_OPTIONS = new Set(['allow_host_loopback', 'mtu']);
/** pasta options hutch sets itself: giving them would break how it runs pasta. */
const PASTA_MANAGED = new Set([
  '-f',
  '--foreground',
  '--netns',
  '--userns',
  '--netns-only',
  '-P',
  '--pid',
  '--runas',
  '-1',
  '--one-off',
  '-I',
  '--ns-ifname',
  '-c',
  '--config-net',
]);

function invalid(value: string, why: string, hint = MODES_HINT): HutchError {
  return new HutchError(`invalid --network ${JSON.stringify(value)}: ${why}`, { hint });
}

function checkBool(value: string, key: string, whole: string): void {
  if (value !== 'true' && value !== 'false') throw invalid(whole, `${key} must be true or false`, `${key}=true`);
}

function checkSlirpOptions(options: Record<string, string>, whole: string): void {
  for (const [key, value] of Object.entries(options)) {
    if (!SLIRP_OPTIONS.has(key)) {
      throw invalid(whole, `unknown slirp4netns option ${JSON.stringify(key)}`, `use ${[...SLIRP_OPTIONS].join(', ')}`);
    }
    if (key === 'allow_host_loopback' || key === 'enable_ipv6') checkBool(value, key, whole);
    if (key === 'mtu') checkMtu(value, whole);
    if (key === 'cidr' && parseCidr(value) === undefined) {
      throw invalid(
        whole,
        `cidr ${JSON.stringify(value)} is not an IPv4 network with a prefix of 1 to 25`,
        'e.g. cidr=10.0.3.0/24',
      );
    }
    if (key === 'port_handler' && value !== 'slirp4netns') {
      throw invalid(
        whole,
        `port_handler ${JSON.stringify(value)} is not supported`,
        "hutch forwards ports through slirp4netns's own API: leave port_handler out, or give port_handler=slirp4netns",
      );
    }
    if (key === 'outbound_addr' && !isIPv4(value) && !/^[A-Za-z0-9_.:-]{1,15}$/.test(value)) {
      throw invalid(whole, `outbound_addr ${JSON.stringify(value)} is neither an IPv4 address nor an interface name`);
    }
    if (key === 'outbound_addr6' && !isIPv6(value) && !/^[A-Za-z0-9_.:-]{1,15}$/.test(value)) {
      throw invalid(whole, `outbound_addr6 ${JSON.stringify(value)} is neither an IPv6 address nor an interface name`);
    }
  }
}

function checkMtu(value: string, whole: string): void {
  const mtu = Number(value);
  if (!/^\d+$/.test(value) || mtu < 68 || mtu > 65521) {
    throw invalid(whole, `mtu ${JSON.stringify(value)} is not a number from 68 to 65521`, 'e.g. mtu=1500');
  }
}

/** `mode[:opts]` → mode, target and options. */
function parseMode(
  value: string | undefined,
  host: RequestHost,
): Pick<NetworkRequest, 'mode' | 'target' | 'options' | 'pastaArgs'> {
  const base = { options: {}, pastaArgs: [] };
  if (value === undefined || value === '' || value === 'private') {
    return { ...base, mode: DEFAULT_NETWORK_MODE };
  }
  const colon = value.indexOf(':');
  const head = colon < 0 ? value : value.slice(0, colon);
  const rest = colon < 0 ? undefined : value.slice(colon + 1);
  switch (head) {
    case 'none':
    case 'host':
      if (rest !== undefined) throw invalid(value, `${head} takes no options`);
      return { ...base, mode: head };
    case 'container': {
      if (rest === undefined || rest === '') {
        throw invalid(value, 'no container named', 'use container:NAME (the name or id of a running container)');
      }
      return { ...base, mode: 'container', target: rest };
    }
    case 'slirp4netns': {
      const options: Record<string, string> = {};
      for (const item of (rest ?? '').split(',').filter((s) => s !== '')) {
        const eq = item.indexOf('=');
        if (eq <= 0)
          throw invalid(
            value,
            `option ${JSON.stringify(item)} is not key=value`,
            'e.g. slirp4netns:allow_host_loopback=true',
          );
        options[item.slice(0, eq)] = item.slice(eq + 1);
      }
      checkSlirpOptions(options, value);
      return { ...base, mode: 'slirp4netns', options };
    }
    case 'pasta': {
      const options: Record<string, string> = {};
      const pastaArgs: string[] = [];
      for (const item of (rest ?? '').split(',').filter((s) => s !== '')) {
        const eq = item.indexOf('=');
        const key = eq < 0 ? item : item.slice(0, eq);
        if (!item.startsWith('-') && eq > 0 && PASTA_OPTIONS.has(key)) {
          options[key] = item.slice(eq + 1);
          continue;
        }
        if (PASTA_MANAGED.has(key)) {
          throw invalid(value, `hutch sets pasta's ${key} itself`, 'leave it out; other pasta options are passed on');
        }
        pastaArgs.push(item);
      }
      if (options.allow_host_loopback !== undefined)
        checkBool(options.allow_host_loopback, 'allow_host_loopback', value);
      if (options.mtu !== undefined) checkMtu(options.mtu, value);
      return { mode: 'pasta', options, pastaArgs };
    }
    case 'bridge':
      throw invalid(
        value,
        'hutch has no default bridge network',
        'create one (hutch network create NAME) and run with --network NAME',
      );
    case 'ns':
    case 'slirp':
      throw invalid(value, `${head} is not supported`);
    default: {
      if (rest !== undefined) throw invalid(value, `unknown network mode ${JSON.stringify(head)}`);
      const names = [...new Set(value.split(',').filter((n) => n !== ''))];
      if (names.length > 1) {
        throw new HutchError(`--network ${value}: hutch connects a container to one network`, {
          hint: 'give one network; containers on different networks cannot reach each other here',
        });
      }
      if (names.length === 1 && names[0] !== value) return parseMode(names[0], host);
      if (!NETWORK_NAME.test(value)) throw invalid(value, 'not a mode, and not a valid network name');
      if (host.storage !== undefined && !existsSync(networkFile(host.storage, value))) {
        throw new HutchError(`unable to find network with name or ID ${value}: network not found`, {
          hint: `create it first (hutch network create ${value}); hutch network ls lists the networks`,
        });
      }
      return { ...base, mode: 'network', target: value };
    }
  }
}

/**
 * --add-host NAME:host-gateway needs a way to the host: host networking, or a
 * user-mode stack that lets the container reach the host's loopback. A
 * network's own option is checked when the container joins it.
 */
function checkHostGateway(mode: Pick<NetworkRequest, 'mode' | 'options'>, value: string): void {
  if (mode.mode === 'host' || mode.mode === 'network') return;
  if ((mode.mode === 'slirp4netns' || mode.mode === 'pasta') && mode.options.allow_host_loopback === 'true') return;
  throw new HutchError(`invalid --add-host ${value}: the container cannot reach the host with --network ${mode.mode}`, {
    hint:
      mode.mode === 'slirp4netns' || mode.mode === 'pasta'
        ? `allow it: --network ${mode.mode}:allow_host_loopback=true`
        : 'use --network slirp4netns:allow_host_loopback=true, or give an IP address',
  });
}

/** The tap helper a mode runs, checked on this host (the same check `hutch info` shows). */
export function checkHelperFor(mode: NetworkMode, host: NetworkHost): void {
  const program = mode === 'slirp4netns' || mode === 'network' ? 'slirp4netns' : mode === 'pasta' ? 'pasta' : undefined;
  if (program === undefined) return;
  const check = checkTapHelper(program, program === 'pasta' ? 'passt' : 'slirp4netns', host);
  if (!check.ok) {
    throw new HutchError(`--network ${mode === 'network' ? 'NAME' : mode}: ${check.problem}`, {
      hint: `${check.fix ?? 'fix the host'}, or run without a network (--network none)`,
    });
  }
}

/**
 * Checks every network flag and returns the request. exposed: the image's
 * ExposedPorts keys (`80/tcp`), published with -P. Throws HutchError (125).
 */
export function parseNetworkRequest(
  flags: NetworkFlags,
  exposed: string[],
  host: RequestHost = currentRequestHost(),
): NetworkRequest {
  const mode = parseMode(flags.network, host);
  const explicit = flags.publish.flatMap((spec) => parsePublish(spec));
  const publish = combinePublished(explicit, flags.publishAll ? exposedMappings(exposed) : []);
  const dns = flags.dns.map(checkDnsServer);
  const dnsSearch = flags.dnsSearch.map(checkDnsSearch);
  const dnsOptions = (flags.dnsOptions ?? []).map(checkDnsOption);
  const aliases = [...new Set((flags.aliases ?? []).map(checkAlias))];
  if (aliases.length > 0 && mode.mode !== 'network') {
    // podman's words; the alias is a name on a network, which only --network NAME has.
    throw new HutchError(
      'invalid config provided: networks and static ip/mac address can only be used with Bridge mode networking',
      { hint: '--network-alias needs a network: hutch network create NAME, then --network NAME' },
    );
  }
  const addHost = flags.addHost.map((value) => {
    const entry = parseAddHost(value);
    if (entry.address === HOST_GATEWAY) checkHostGateway(mode, value);
    return value;
  });
  if (mode.mode === 'none' || mode.mode === 'host' || mode.mode === 'container') {
    if (explicit.length > 0) {
      const why =
        mode.mode === 'none'
          ? 'a container without a network has no ports to publish'
          : mode.mode === 'host'
            ? "the container uses the host's ports directly"
            : 'the ports belong to the container whose network is joined';
      throw new HutchError(`-p cannot be used with --network ${flags.network}: ${why}`, {
        hint:
          mode.mode === 'container'
            ? 'publish the ports on that container instead'
            : 'leave out -p, or use --network slirp4netns or pasta',
      });
    }
  }
  if (mode.mode === 'container' && (dns.length > 0 || dnsSearch.length > 0 || addHost.length > 0)) {
    throw new HutchError(`--dns, --dns-search and --add-host cannot be used with --network ${flags.network}`, {
      hint: "the container shares the other container's /etc/hosts and /etc/resolv.conf: set them there",
    });
  }
  if (mode.mode === 'slirp4netns' || mode.mode === 'network') {
    const v6 = publish.find((p) => isIPv6(p.hostIp));
    if (v6 !== undefined) {
      throw new HutchError(`cannot publish on ${v6.hostIp}: slirp4netns forwards IPv4 host addresses only`, {
        hint: `leave out the address, or give an IPv4 one${mode.mode === 'slirp4netns' ? ', or use --network pasta' : ''}`,
      });
    }
  }
  checkPrivilegedPorts(publish, host.unprivilegedPortStart, host.root);
  checkHelperFor(mode.mode, host);
  return {
    ...mode,
    publish: mode.mode === 'none' || mode.mode === 'host' || mode.mode === 'container' ? [] : publish,
    publishAll: flags.publishAll,
    dns,
    dnsSearch,
    ...(dnsOptions.length > 0 ? { dnsOptions } : {}),
    addHost,
    ...(aliases.length > 0 ? { aliases } : {}),
  };
}

/** The mode as podman's inspect names it (NetworkMode). */
export function describeMode(request: NetworkRequest): string {
  switch (request.mode) {
    case 'container':
      return `container:${request.target ?? ''}`;
    case 'network':
      return request.target ?? 'network';
    default:
      return request.mode;
  }
}
