/**
 * slirp4netns: a user-mode TCP/IP stack (libslirp) on a tap device in a
 * network namespace, run from the session, which owns that namespace.
 *
 *   slirp4netns [--configure] --mtu=65520 [--disable-host-loopback] [--cidr=…]
 *     --enable-sandbox --enable-seccomp --api-socket SOCK --ready-fd 3
 *     --exit-fd 4 PID tap0
 *
 * fd 3 is a pipe it writes `1` to once the tap device and the API socket are
 * up; fd 4 is a pidfd of the process whose namespace it serves: it hangs up
 * when that process has exited and been reaped, and slirp4netns then exits by
 * itself, so it cannot outlive its container even when nothing runs hutch's
 * cleanup (the monitor killed). Ports are forwarded with the API socket's
 * add_hostfwd, which binds the host port in the host's network namespace (the
 * session has none of its own): the source address of a connection reaches
 * the container unchanged.
 */
import { closeSync, mkdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { HutchError, messageOf, withContext } from '../../errors.js';
import { native } from '../../native.js';
import { addressAt, parseCidr } from './cidr.js';
import { etcFiles } from './dns.js';
import type { AttachContext, ModeDriver, NetworkState } from './contract.js';
import { release, startHelper, stopHelper, waitReady, type HelperProcess } from './helper.js';
import { resolvePorts, type PublishedPort } from './ports.js';
import type { NetworkRequest } from './request.js';
import { checkTapHelper } from './tap.js';

export const DEFAULT_CIDR = '10.0.2.0/24';
export const DEFAULT_MTU = 65520;
/** A sun_path holds 108 bytes with its NUL. */
const MAX_SOCKET_PATH = 107;

/** The addresses slirp4netns gives a network (libslirp's fixed offsets). */
export interface SlirpAddresses {
  network: string;
  prefix: number;
  /** The host as the namespace sees it (its loopback, when allowed): network + 2. */
  gateway: string;
  /** libslirp's DNS forwarder: network + 3. */
  dns: string;
  /** The address --configure gives the tap device: network + 100. */
  guest: string;
}

export function slirpAddresses(cidr: string = DEFAULT_CIDR): SlirpAddresses {
  const parsed = parseCidr(cidr);
  if (parsed === undefined) throw new HutchError(`invalid slirp4netns cidr ${cidr}`);
  return {
    network: parsed.network,
    prefix: parsed.prefix,
    gateway: addressAt(parsed, 2),
    dns: addressAt(parsed, 3),
    guest: addressAt(parsed, 100),
  };
}

export interface SlirpOptions {
  /** The process whose network namespace gets the tap device. */
  pid: number;
  /** Give the tap device the guest address and a default route, and bring it and lo up. */
  configure: boolean;
  mtu: number;
  cidr: string;
  allowHostLoopback: boolean;
  enableIpv6: boolean;
  outboundAddr?: string;
  outboundAddr6?: string;
  apiSocket: string;
  log: string;
  pathVar?: string;
}

/** Starts slirp4netns for the namespace of options.pid and waits until it is ready. */
export async function startSlirp(options: SlirpOptions): Promise<HelperProcess> {
  const check = checkTapHelper('slirp4netns', 'slirp4netns', { pathVar: options.pathVar ?? process.env.PATH });
  if (!check.ok || check.path === undefined) {
    throw new HutchError(`cannot start slirp4netns: ${check.problem}`, { ...(check.fix ? { hint: check.fix } : {}) });
  }
  if (Buffer.byteLength(options.apiSocket) > MAX_SOCKET_PATH) {
    throw new HutchError(`the slirp4netns API socket path is too long: ${options.apiSocket}`, {
      hint: 'set XDG_RUNTIME_DIR to a shorter directory',
    });
  }
  const args = [
    `--mtu=${options.mtu}`,
    `--cidr=${options.cidr}`,
    '--enable-sandbox',
    '--enable-seccomp',
    `--api-socket=${options.apiSocket}`,
    '--ready-fd=3',
    '--exit-fd=4',
  ];
  if (options.configure) args.unshift('--configure');
  if (!options.allowHostLoopback) args.push('--disable-host-loopback');
  if (options.enableIpv6) args.push('--enable-ipv6');
  if (options.outboundAddr !== undefined) args.push(`--outbound-addr=${options.outboundAddr}`);
  if (options.outboundAddr6 !== undefined) args.push(`--outbound-addr6=${options.outboundAddr6}`);
  args.push(String(options.pid), 'tap0');
  let pidfd: number;
  try {
    pidfd = native.pidfdOpen(options.pid);
  } catch (error) {
    throw new HutchError(`cannot attach slirp4netns: process ${options.pid} is gone (${messageOf(error)})`);
  }
  let started;
  try {
    started = await startHelper({
      program: 'slirp4netns',
      path: check.path,
      args,
      log: options.log,
      fds: ['pipe', pidfd],
    });
  } finally {
    closeSync(pidfd);
  }
  try {
    await waitReady(started, { pipe: 3 });
  } catch (error) {
    await stopHelper(started.helper, 200);
    release(started);
    throw error;
  }
  release(started);
  return started.helper;
}

interface ApiReply {
  return?: { id?: number; entries?: unknown[] };
  error?: { desc?: string };
}

/** One request on the API socket: slirp4netns answers and closes. */
export function slirpRequest(socket: string, request: object): Promise<ApiReply> {
  return new Promise((resolve, reject) => {
    const client = connect(socket);
    let text = '';
    client.setTimeout(5000, () => client.destroy(new Error('no answer within 5 s')));
    client.once('connect', () => client.end(JSON.stringify(request)));
    client.on('data', (chunk: Buffer) => (text += chunk.toString()));
    client.once('error', (error) => reject(withContext('slirp4netns', `slirp4netns API ${socket}`, error)));
    client.once('close', () => {
      try {
        resolve(JSON.parse(text) as ApiReply);
      } catch {
        reject(new HutchError(`slirp4netns API ${socket}: unexpected answer ${JSON.stringify(text.slice(0, 200))}`));
      }
    });
  });
}

/** add_hostfwd for each port; returns the forwarding ids (for remove_hostfwd). */
export async function addForwards(socket: string, ports: PublishedPort[], guestAddr: string): Promise<number[]> {
  const ids: number[] = [];
  for (const port of ports) {
    const reply = await slirpRequest(socket, {
      execute: 'add_hostfwd',
      arguments: {
        proto: port.protocol,
        host_addr: port.hostIp === '' ? '0.0.0.0' : port.hostIp,
        host_port: port.hostPort,
        guest_addr: guestAddr,
        guest_port: port.containerPort,
      },
    });
    if (reply.error !== undefined || typeof reply.return?.id !== 'number') {
      const where = `${port.hostIp === '' ? '0.0.0.0' : port.hostIp}:${port.hostPort}/${port.protocol}`;
      throw new HutchError(
        `cannot publish ${where}: slirp4netns: ${reply.error?.desc ?? 'no forwarding id in its answer'}`,
        {
          hint: `the port may have been taken meanwhile: choose another host port for ${port.containerPort}/${port.protocol}`,
        },
      );
    }
    ids.push(reply.return.id);
  }
  return ids;
}

/** remove_hostfwd for each id; failures are ignored (slirp4netns may be gone). */
export async function removeForwards(socket: string, ids: number[]): Promise<void> {
  for (const id of ids) {
    await slirpRequest(socket, { execute: 'remove_hostfwd', arguments: { id } }).catch(() => undefined);
  }
}

/** Where a container's slirp4netns listens: short, so that it fits a sun_path. */
export function apiSocketFor(runtime: string, containerId: string): string {
  return join(runtime, 'net', `${containerId.slice(0, 16)}.sock`);
}

function settings(request: NetworkRequest) {
  const o = request.options;
  return {
    cidr: o.cidr ?? DEFAULT_CIDR,
    mtu: o.mtu !== undefined ? Number(o.mtu) : DEFAULT_MTU,
    allowHostLoopback: o.allow_host_loopback === 'true',
    enableIpv6: o.enable_ipv6 === 'true',
    ...(o.outbound_addr !== undefined ? { outboundAddr: o.outbound_addr } : {}),
    ...(o.outbound_addr6 !== undefined ? { outboundAddr6: o.outbound_addr6 } : {}),
  };
}

/** --network slirp4netns: a slirp4netns of its own on tap0, ports through its API. */
export const slirpDriver: ModeDriver = {
  namespace: () => ({ mode: 'new' }),

  etc(request, ctx, host) {
    const s = settings(request);
    const a = slirpAddresses(s.cidr);
    return etcFiles(request, ctx, host, {
      address: a.guest,
      hostGateway: s.allowHostLoopback ? a.gateway : undefined,
      nameservers: [a.dns],
    });
  },

  async attach(request, ctx: AttachContext): Promise<NetworkState> {
    const s = settings(request);
    const a = slirpAddresses(s.cidr);
    const ports = await resolvePorts(request.publish);
    const apiSocket = apiSocketFor(ctx.runtime, ctx.containerId);
    mkdirSync(join(ctx.runtime, 'net'), { recursive: true, mode: 0o700 });
    rmSync(apiSocket, { force: true });
    const helper = await startSlirp({
      pid: ctx.pid,
      configure: true,
      ...s,
      apiSocket,
      log: join(ctx.runtimeDir, 'slirp4netns.log'),
    });
    try {
      await addForwards(apiSocket, ports, a.guest);
    } catch (error) {
      await stopHelper(helper, 200);
      rmSync(apiSocket, { force: true });
      throw error;
    }
    return {
      mode: 'slirp4netns',
      containerId: ctx.containerId,
      address: a.guest,
      ...(s.allowHostLoopback ? { gateway: a.gateway } : {}),
      ports,
      helper,
      apiSocket,
      files: [apiSocket],
    };
  },

  async detach(state) {
    if (state.helper !== undefined) await stopHelper(state.helper);
    for (const file of state.files ?? []) rmSync(file, { force: true });
  },
};
