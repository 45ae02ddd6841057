/** `hutch network inspect NAME…`: each network as podman shows it, with the members running now. */
import { openRuntime } from '../run/container/lifecycle.js';
import { liveMembers, readNetworkRuntime } from '../run/network/bridge.js';
import { isAlive } from '../run/network/helper.js';
import { findNetwork } from '../run/network/networks.js';

/** podman network inspect's shape, with the members hutch keeps. */
export async function networkInspect(names: string[]): Promise<object[]> {
  const rt = await openRuntime();
  return names.map((nameOrId) => {
    const config = findNetwork(rt.paths.storage, nameOrId);
    const state = readNetworkRuntime(rt.paths.runtime, config.name);
    const running = state !== undefined && state.id === config.id && isAlive(state.holder);
    const members = running ? liveMembers(rt.paths.runtime, config.name) : [];
    return {
      name: config.name,
      id: config.id,
      driver: config.driver,
      network_interface: 'hutch0',
      created: config.created,
      subnets: [{ subnet: config.subnet, gateway: config.gateway }],
      ipv6_enabled: false,
      internal: config.internal,
      dns_enabled: false,
      options: config.options,
      labels: config.labels,
      running,
      ...(running && state !== undefined
        ? { holder: { pid: state.holder.pid, slirp4netns: state.slirp?.pid ?? null } }
        : {}),
      containers: Object.fromEntries(
        members.map((m) => [
          m.containerId,
          {
            name: m.name,
            interfaces: {
              eth0: { subnets: [{ ipnet: `${m.address}/${config.subnet.split('/')[1]}`, gateway: config.gateway }] },
            },
          },
        ]),
      ),
    };
  });
}
