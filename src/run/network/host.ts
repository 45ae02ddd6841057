/**
 * --network host: the host's network namespace (the session has none of its
 * own), its /etc/hosts and /etc/resolv.conf, with --add-host entries first
 * and --dns/--dns-search applied.
 */
import { containerResolvConf, HOST_GATEWAY, parseAddHost, parseResolvConf, renderHosts } from './dns.js';
import type { ModeDriver } from './contract.js';

export const hostDriver: ModeDriver = {
  namespace: () => ({ mode: 'host' }),

  etc(request, ctx, host) {
    // The container shares the host's loopback: host-gateway is 127.0.0.1.
    const added = renderHosts(
      request.addHost
        .map(parseAddHost)
        .map((e) => (e.address === HOST_GATEWAY ? { address: '127.0.0.1', names: e.names } : e)),
    );
    const own = new RegExp(`\\s${ctx.hostname.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\s|$)`, 'm');
    const base = host.hosts.endsWith('\n') || host.hosts === '' ? host.hosts : `${host.hosts}\n`;
    const hosts = `${added}${base}${own.test(base) ? '' : `127.0.1.1\t${ctx.hostname}\n`}`;
    const resolvConf =
      request.dns.length === 0 && request.dnsSearch.length === 0 && (request.dnsOptions ?? []).length === 0
        ? host.resolvConf
        : containerResolvConf(
            parseResolvConf(host.resolvConf),
            { nameservers: parseResolvConf(host.resolvConf).nameservers },
            request,
          );
    return { hosts, resolvConf };
  },

  async attach(_request, ctx) {
    return { mode: 'host', containerId: ctx.containerId, ports: [] };
  },

  async detach() {
    // nothing of its own
  },
};
