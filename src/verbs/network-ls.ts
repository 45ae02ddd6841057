/** `hutch network ls`: the networks, with podman's field names (what --format templates and JSON see). */
import { openRuntime } from '../run/container/lifecycle.js';
import { listNetworks, type NetworkConfig } from '../run/network/networks.js';

/** What `network ls --format` templates and JSON see (podman's field names). */
export interface NetworkListing {
  Name: string;
  ID: string;
  Driver: string;
  Subnet: string;
  Gateway: string;
  Internal: boolean;
  Created: string;
  Labels: Record<string, string>;
}

function listing(config: NetworkConfig): NetworkListing {
  return {
    Name: config.name,
    ID: config.id,
    Driver: config.driver,
    Subnet: config.subnet,
    Gateway: config.gateway,
    Internal: config.internal,
    Created: config.created,
    Labels: config.labels,
  };
}

export async function networkList(): Promise<NetworkListing[]> {
  const rt = await openRuntime();
  return listNetworks(rt.paths.storage).map(listing);
}
