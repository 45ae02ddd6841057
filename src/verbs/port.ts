/** `hutch port CTR [PORT[/PROTO]]`, `hutch port -a`: the published ports, podman's lines (without their newlines). */
import { HutchError } from '../errors.js';
import { openRuntime } from '../run/container/lifecycle.js';
import type { Container } from '../run/container/store.js';
import type { NetworkState } from '../run/network/contract.js';
import { formatPort, type PublishedPort } from '../run/network/ports.js';

/** The network a running container is attached to (ContainerState.network), if any. */
function stateOf(container: Container): NetworkState | undefined {
  return container.state.network;
}

export async function publishedPorts(
  name: string | undefined,
  port: string | undefined,
  all: boolean,
): Promise<string[]> {
  const rt = await openRuntime();
  const containers = all ? rt.containers.list() : [rt.containers.find(name ?? '')];
  const lines: string[] = [];
  let wanted: { port: number; protocol: string } | undefined;
  if (port !== undefined) {
    const match = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(port);
    if (match === null)
      throw new HutchError(`invalid port ${JSON.stringify(port)}`, { hint: 'give PORT or PORT/tcp|udp' });
    wanted = { port: Number(match[1]), protocol: match[2] ?? 'tcp' };
  }
  for (const container of containers) {
    const state = container.state.status === 'running' ? stateOf(container) : undefined;
    const ports: PublishedPort[] = state?.ports ?? [];
    if (wanted !== undefined) {
      const hits = ports.filter((p) => p.containerPort === wanted.port && p.protocol === wanted.protocol);
      if (hits.length === 0 && !all) {
        throw new HutchError(`failed to find published port "${wanted.port}/${wanted.protocol}"`);
      }
      for (const hit of hits) lines.push(formatPort(hit).split(' -> ')[1] as string);
      continue;
    }
    for (const p of ports) lines.push(all ? `${container.config.id.slice(0, 12)}\t${formatPort(p)}` : formatPort(p));
  }
  return lines;
}
