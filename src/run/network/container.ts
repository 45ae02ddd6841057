/**
 * --network container:NAME: the network namespace of another running
 * container (its process's /proc/PID/ns/net, entered with setns before the
 * new container mounts its own /proc), and a copy of its /etc/hosts and
 * /etc/resolv.conf. The namespace's helper and ports stay the other
 * container's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HutchError } from '../../errors.js';
import { ifExists } from '../../fs/missing.js';
import type { ContainerLookup, ModeDriver } from './contract.js';
import { startTimeOf } from './helper.js';
import { netnsOf } from './ip.js';
import type { NetworkRequest } from './request.js';

function targetOf(request: NetworkRequest, containers: ContainerLookup) {
  const target = containers.find(request.target ?? '');
  const { state, config } = target;
  if (state.status !== 'running' || startTimeOf(state.pid) !== state.pidStartTime) {
    throw new HutchError(`--network container:${request.target}: container ${config.name} is not running`, {
      hint: `start it first (hutch start ${config.name})`,
    });
  }
  return target;
}

/** The other container's file; undefined when it has none (an unreadable one throws). */
function read(path: string): string | undefined {
  return ifExists(() => readFileSync(path, 'utf8'));
}

export const containerDriver: ModeDriver = {
  namespace(request, ctx) {
    return { mode: 'join', path: netnsOf(targetOf(request, ctx.containers).state.pid) };
  },

  etc(request, ctx, host) {
    const target = targetOf(request, ctx.containers);
    return {
      hosts: read(join(target.dir, 'userdata', 'hosts')) ?? host.hosts,
      resolvConf: read(join(target.dir, 'userdata', 'resolv.conf')) ?? host.resolvConf,
    };
  },

  async attach(request, ctx) {
    return { mode: 'container', containerId: ctx.containerId, target: request.target ?? '', ports: [] };
  },

  async detach() {
    // the namespace and its helper are the other container's
  },
};
