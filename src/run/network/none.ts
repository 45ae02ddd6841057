/**
 * --network none: a network namespace of its own with only loopback, brought
 * up (as podman does), so a container can still talk to itself. The
 * container's plan brings it up (a LinkUp step, as root of the namespace
 * before its credentials drop): no nsenter and ip to start on every run.
 */
import { etcFiles, reachableNameservers } from './dns.js';
import type { ModeDriver } from './contract.js';

export const noneDriver: ModeDriver = {
  namespace: () => ({ mode: 'new', loopbackUp: true }),

  etc(request, ctx, host) {
    // Nothing answers outside; the host's servers are listed as podman does.
    return etcFiles(request, ctx, host, {
      address: undefined,
      hostGateway: undefined,
      nameservers: reachableNameservers(host.resolvConf),
    });
  },

  async attach(_request, ctx) {
    return { mode: 'none', containerId: ctx.containerId, ports: [] };
  },

  async detach() {
    // the namespace goes with the container
  },
};
