/**
 * --network none: a network namespace of its own with only loopback, brought
 * up (as podman does), so a container can still talk to itself.
 */
import { etcFiles, reachableNameservers } from './dns.js';
import type { ModeDriver } from './driver.js';
import { ipBatch, netnsOf } from './ip.js';

export const noneDriver: ModeDriver = {
  namespace: () => ({ mode: 'new' }),

  etc(request, ctx, host) {
    // Nothing answers outside; the host's servers are listed as podman does.
    return etcFiles(request, ctx, host, {
      address: undefined,
      hostGateway: undefined,
      nameservers: reachableNameservers(host.resolvConf),
    });
  },

  async attach(_request, ctx) {
    await ipBatch(netnsOf(ctx.pid), ['link set lo up'], 'bring up the loopback device');
    return { mode: 'none', containerId: ctx.containerId, ports: [] };
  },

  async detach() {
    // the namespace goes with the container
  },
};
