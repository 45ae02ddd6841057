// The network flags of `run` and `create`, as podman spells them (with its
// old names: --net, --dns-opt). The values become NetworkFlags;
// src/run/network/request.ts checks them (parseNetworkRequest).
import { Option, type Command } from 'commander';
import type { NetworkFlags } from '../run/network/request.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** What commander gives for the flags addNetworkFlags adds (--net in network, --dns-opt in dnsOption). */
export interface NetworkFlagValues {
  network: string[];
  networkAlias: string[];
  publish: string[];
  publishAll?: boolean;
  dns: string[];
  dnsSearch: string[];
  dnsOption: string[];
  addHost: string[];
}

/** An old name of a repeatable flag: its values join the new one's list, in command-line order. */
function oldName(command: Command, flags: string, attribute: string, event: string): Command {
  command.addOption(new Option(flags, 'podman’s older name').hideHelp());
  return command.on(`option:${event}`, (value: string) => {
    command.setOptionValue(attribute, [...((command.getOptionValue(attribute) as string[] | undefined) ?? []), value]);
  });
}

export function addNetworkFlags(command: Command): Command {
  oldName(command, '--net <mode>', 'network', 'net');
  oldName(command, '--dns-opt <option>', 'dnsOption', 'dns-opt');
  return command
    .option(
      '--network <mode>',
      'slirp4netns[:opts] (default), pasta[:opts], none, host, container:NAME, or a network NAME',
      collect,
      [],
    )
    .option('--network-alias <name>', 'another name the containers of its network find it by (repeatable)', collect, [])
    .option(
      '-p, --publish <[ip:][hostPort:]containerPort[/proto]>',
      'publish a container port (or range) on the host (repeatable)',
      collect,
      [],
    )
    .option('-P, --publish-all', 'publish every port the image EXPOSEs on free host ports')
    .option('--dns <ip>', 'a DNS server for /etc/resolv.conf (repeatable)', collect, [])
    .option('--dns-search <domain>', 'a DNS search domain (repeatable; . for none)', collect, [])
    .option('--dns-option <option>', 'a resolv.conf option, e.g. ndots:2 (repeatable)', collect, [])
    .option('--add-host <host:ip>', 'an /etc/hosts entry (repeatable; ip may be host-gateway)', collect, []);
}

export function networkFlags(values: NetworkFlagValues): NetworkFlags {
  // podman takes NAME,NAME and repeated flags alike; the request refuses more than one network.
  const network = values.network.join(',');
  return {
    ...(network !== '' ? { network } : {}),
    publish: values.publish,
    publishAll: values.publishAll === true,
    dns: values.dns,
    dnsSearch: values.dnsSearch,
    dnsOptions: values.dnsOption,
    addHost: values.addHost,
    aliases: values.networkAlias,
  };
}
