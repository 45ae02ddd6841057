// The network flags of `run` and `create`, as podman spells them. The values
// become NetworkFlags; src/run/network/request.ts checks them (parseNetworkRequest).
import { Option, type Command } from 'commander';
import type { NetworkFlags } from '../run/network/request.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** What commander gives for the flags addNetworkFlags adds. */
export interface NetworkFlagValues {
  network?: string;
  /** podman's other name for --network. */
  net?: string;
  publish: string[];
  publishAll?: boolean;
  dns: string[];
  dnsSearch: string[];
  addHost: string[];
}

export function addNetworkFlags(command: Command): Command {
  return command
    .option(
      '--network <mode>',
      'slirp4netns[:opts] (default), pasta[:opts], none, host, container:NAME, or a network NAME',
    )
    .addOption(new Option('--net <mode>', 'another name of --network').hideHelp())
    .option(
      '-p, --publish <[ip:][hostPort:]containerPort[/proto]>',
      'publish a container port (or range) on the host (repeatable)',
      collect,
      [],
    )
    .option('-P, --publish-all', 'publish every port the image EXPOSEs on free host ports')
    .option('--dns <ip>', 'a DNS server for /etc/resolv.conf (repeatable)', collect, [])
    .option('--dns-search <domain>', 'a DNS search domain (repeatable; . for none)', collect, [])
    .option('--add-host <host:ip>', 'an /etc/hosts entry (repeatable; ip may be host-gateway)', collect, []);
}

export function networkFlags(values: NetworkFlagValues): NetworkFlags {
  return {
    ...((values.network ?? values.net) !== undefined ? { network: values.network ?? values.net } : {}),
    publish: values.publish,
    publishAll: values.publishAll === true,
    dns: values.dns,
    dnsSearch: values.dnsSearch,
    addHost: values.addHost,
  };
}
