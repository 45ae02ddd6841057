/**
 * pasta (package passt): a user-mode stack that translates the namespace's
 * traffic to host sockets, with forwarded ports bound at start.
 *
 *   pasta --runas UID:GID -f -q --config-net --netns /proc/self/fd/3
 *     --netns-only -P PIDFILE -I tap0 -a 10.0.2.100 -n 24 -g 10.0.2.2
 *     --dns-forward 10.0.2.3 -m 65520 -t … -u … -T none -U none [--no-map-gw]
 *
 * The namespace goes to pasta as an open fd (fd 3): pasta drops its
 * capabilities before it opens the target, and /proc/PID/ns/net of a process
 * with more capabilities than it kept is refused (ptrace access rules). hutch
 * gives it the addresses slirp4netns uses, so /etc/hosts, resolv.conf and
 * allow_host_loopback mean the same on both (the gateway 10.0.2.2 is the
 * host's loopback only without --no-map-gw). -T/-U none: the container's own
 * loopback ports never lead to the host's.
 *
 * This pasta has no exit fd and keeps the namespace alive through its fd, so
 * it would outlive a container whose cleanup never runs (monitor killed).
 * It is therefore started by a watcher, `sh -c 'setpriv --pdeathsig KILL
 * pasta … & exec tail --pid=PID -f /dev/null'`: the watcher lives while the
 * container's process does, and pasta gets SIGKILL when its parent, the
 * watcher, ends. Readiness: pasta writes the pid file once it is set up; the
 * pid in it is the helper hutch records and stops at cleanup.
 */
import { closeSync, constants, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { HutchError, messageOf } from '../../errors.js';
import { etcFiles } from './dns.js';
import type { ModeDriver, NetworkState } from './contract.js';
import { logTail, release, startHelper, startTimeOf, stopHelper, waitReady, type HelperProcess } from './helper.js';
import { netnsOf, tool } from './ip.js';
import { resolvePorts, type PublishedPort } from './ports.js';
import { DEFAULT_MTU, slirpAddresses } from './slirp4netns.js';
import { checkTapHelper } from './tap.js';

export const PASTA_ADDRESSES = slirpAddresses('10.0.2.0/24');

export interface PastaOptions {
  pid: number;
  mtu: number;
  allowHostLoopback: boolean;
  ports: PublishedPort[];
  /** The user's own pasta options (after `pasta:`), last. */
  extraArgs: string[];
  pidFile: string;
  log: string;
  pathVar?: string;
}

/** pasta's -t/-u specs for the ports: `[ADDR/]HOST:CTR`, `none` when there are none. */
export function pastaPortArgs(ports: PublishedPort[]): string[] {
  const args: string[] = [];
  for (const protocol of ['tcp', 'udp'] as const) {
    const flag = protocol === 'tcp' ? '-t' : '-u';
    const mine = ports.filter((p) => p.protocol === protocol);
    if (mine.length === 0) args.push(flag, 'none');
    for (const port of mine) {
      const address = port.hostIp === '' ? '' : `${port.hostIp}/`;
      args.push(flag, `${address}${port.hostPort}:${port.containerPort}`);
    }
  }
  return args;
}

export function pastaArgs(options: PastaOptions): string[] {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const a = PASTA_ADDRESSES;
  return [
    '--runas',
    `${uid}:${gid}`,
    '-f',
    '-q',
    '--config-net',
    '--netns',
    '/proc/self/fd/3',
    '--netns-only',
    '-P',
    options.pidFile,
    '-I',
    'tap0',
    '-a',
    a.guest,
    '-n',
    String(a.prefix),
    '-g',
    a.gateway,
    '--dns-forward',
    a.dns,
    '-m',
    String(options.mtu || DEFAULT_MTU),
    ...pastaPortArgs(options.ports),
    '-T',
    'none',
    '-U',
    'none',
    ...(options.allowHostLoopback ? [] : ['--no-map-gw']),
    ...options.extraArgs,
  ];
}

export async function startPasta(options: PastaOptions): Promise<HelperProcess> {
  const check = checkTapHelper('pasta', 'passt', { pathVar: options.pathVar ?? process.env.PATH });
  if (!check.ok || check.path === undefined) {
    throw new HutchError(`cannot start pasta: ${check.problem}`, { ...(check.fix ? { hint: check.fix } : {}) });
  }
  let netnsFd: number;
  try {
    netnsFd = openSync(netnsOf(options.pid), constants.O_RDONLY);
  } catch (error) {
    throw new HutchError(`cannot attach pasta: process ${options.pid} is gone (${messageOf(error)})`);
  }
  const watch = `${tool('setpriv', 'util-linux')} --pdeathsig KILL -- "$@" & exec ${tool('tail', 'coreutils')} --pid=${options.pid} -s 0.2 -f /dev/null 3<&-`;
  let started;
  try {
    started = await startHelper({
      program: 'pasta',
      path: '/bin/sh',
      args: ['-c', watch, 'pasta-watch', check.path, ...pastaArgs(options)],
      log: options.log,
      fds: [netnsFd],
    });
  } finally {
    closeSync(netnsFd);
  }
  let pasta: HelperProcess | undefined;
  try {
    await waitReady(started, {
      poll: () => {
        const pid = readPidFile(options.pidFile);
        const startTime = pid === undefined ? undefined : startTimeOf(pid);
        if (pid === undefined || startTime === undefined) {
          if (pastaGone(started.helper.pid)) throw new HutchError(`pasta exited at once${logOf(options.log)}`);
          return false;
        }
        pasta = { program: 'pasta', pid, startTime, log: options.log };
        return true;
      },
    });
  } catch (error) {
    await stopHelper(started.helper, 200);
    release(started);
    throw error;
  }
  release(started);
  return pasta as HelperProcess;
}

/** The watcher runs tail (it exec'd) and has no child left: pasta ended before it was ready. */
function pastaGone(watcher: number): boolean {
  try {
    const command = readFileSync(`/proc/${watcher}/comm`, 'utf8').trim();
    const children = readFileSync(`/proc/${watcher}/task/${watcher}/children`, 'utf8').trim();
    return command === 'tail' && children === '';
  } catch {
    return false;
  }
}

function logOf(log: string): string {
  const tail = logTail(log);
  return tail === '' ? '' : `: ${tail}`;
}

function readPidFile(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** --network pasta: a pasta of its own, ports bound when it starts. */
export const pastaDriver: ModeDriver = {
  namespace: () => ({ mode: 'new' }),

  etc(request, ctx, host) {
    const a = PASTA_ADDRESSES;
    return etcFiles(request, ctx, host, {
      address: a.guest,
      hostGateway: request.options.allow_host_loopback === 'true' ? a.gateway : undefined,
      nameservers: [a.dns],
    });
  },

  async attach(request, ctx): Promise<NetworkState> {
    const allowHostLoopback = request.options.allow_host_loopback === 'true';
    const ports = await resolvePorts(request.publish);
    const pidFile = join(ctx.runtimeDir, 'pasta.pid');
    rmSync(pidFile, { force: true });
    const helper = await startPasta({
      pid: ctx.pid,
      mtu: request.options.mtu !== undefined ? Number(request.options.mtu) : DEFAULT_MTU,
      allowHostLoopback,
      ports,
      extraArgs: request.pastaArgs,
      pidFile,
      log: join(ctx.runtimeDir, 'pasta.log'),
    });
    return {
      mode: 'pasta',
      containerId: ctx.containerId,
      address: PASTA_ADDRESSES.guest,
      ...(allowHostLoopback ? { gateway: PASTA_ADDRESSES.gateway } : {}),
      ports,
      helper,
      files: [pidFile],
    };
  },

  async detach(state) {
    if (state.helper !== undefined) await stopHelper(state.helper);
    for (const file of state.files ?? []) rmSync(file, { force: true });
  },
};
