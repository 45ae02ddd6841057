import { describe, expect, it } from 'vitest';
import { parseNetworkRequest, type NetworkFlags } from '../../src/run/network/request.js';
import type { RequestHost } from '../../src/run/network/request.js';

const host: RequestHost = { pathVar: '/nonexistent', root: false, unprivilegedPortStart: 1024 };
const flags = (more: Partial<NetworkFlags>): NetworkFlags => ({
  publish: [],
  publishAll: false,
  dns: [],
  dnsSearch: [],
  addHost: [],
  ...more,
});
const refusal = (more: Partial<NetworkFlags>, exposed: string[] = []) => {
  try {
    parseNetworkRequest(flags(more), exposed, host);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('accepted');
};

describe('parseNetworkRequest', () => {
  it('defaults to slirp4netns and says how to do without it when it is missing', () => {
    expect(refusal({})).toBe('--network slirp4netns: slirp4netns not found on PATH');
    const hint = (() => {
      try {
        parseNetworkRequest(flags({}), [], host);
      } catch (error) {
        return (error as { hint?: string }).hint;
      }
      return 'accepted';
    })();
    expect(hint).toBe(
      'install slirp4netns (Debian/Ubuntu: sudo apt-get install slirp4netns), or run without a network (--network none)',
    );
    expect(refusal({ network: 'pasta' })).toBe('--network pasta: pasta not found on PATH');
  });

  it('reads none, host and container:NAME, and what each cannot take', () => {
    expect(parseNetworkRequest(flags({ network: 'none', dns: ['10.0.0.1'] }), ['80/tcp'], host)).toEqual({
      mode: 'none',
      options: {},
      pastaArgs: [],
      publish: [],
      publishAll: false,
      dns: ['10.0.0.1'],
      dnsSearch: [],
      addHost: [],
    });
    expect(parseNetworkRequest(flags({ network: 'container:db' }), [], host)).toMatchObject({
      mode: 'container',
      target: 'db',
    });
    expect(parseNetworkRequest(flags({ network: 'host', addHost: ['me:host-gateway'] }), [], host).mode).toBe('host');
    expect(refusal({ network: 'none', publish: ['8080:80'] })).toMatch(/-p cannot be used with --network none/);
    expect(refusal({ network: 'host', publish: ['8080:80'] })).toMatch(/-p cannot be used with --network host/);
    expect(refusal({ network: 'container:db', dns: ['10.0.0.1'] })).toMatch(
      /--dns, --dns-search and --add-host cannot be used with --network container:db/,
    );
    expect(refusal({ network: 'container:' })).toMatch(/no container named/);
    expect(refusal({ network: 'none:x' })).toMatch(/none takes no options/);
    expect(refusal({ network: 'bridge' })).toMatch(/hutch has no default bridge network/);
    expect(refusal({ network: 'none', addHost: ['gw:host-gateway'] })).toMatch(
      /the container cannot reach the host with --network none/,
    );
    expect(refusal({ network: 'none', dns: ['dns.example'] })).toMatch(
      /invalid --dns "dns.example": not an IP address/,
    );
    expect(refusal({ network: 'none', dnsSearch: ['-x'] })).toMatch(/invalid --dns-search "-x": not a domain name/);
  });

  it("checks slirp4netns's and pasta's options before anything runs", () => {
    expect(refusal({ network: 'slirp4netns:mtu=10' })).toMatch(/mtu "10" is not a number from 68 to 65521/);
    expect(refusal({ network: 'slirp4netns:allow_host_loopback=yes' })).toMatch(
      /allow_host_loopback must be true or false/,
    );
    expect(refusal({ network: 'slirp4netns:cidr=10.0.3.0/30' })).toMatch(
      /is not an IPv4 network with a prefix of 1 to 25/,
    );
    expect(refusal({ network: 'slirp4netns:port_handler=rootlesskit' })).toMatch(
      /port_handler "rootlesskit" is not supported/,
    );
    expect(refusal({ network: 'slirp4netns:colour=blue' })).toMatch(/unknown slirp4netns option "colour"/);
    expect(refusal({ network: 'slirp4netns:novalue' })).toMatch(/option "novalue" is not key=value/);
    expect(refusal({ network: 'pasta:--netns,/x' })).toMatch(/hutch sets pasta's --netns itself/);
    expect(refusal({ network: 'slirp4netns', publish: ['[::1]:8080:80'] })).toMatch(
      /slirp4netns forwards IPv4 host addresses only/,
    );
    expect(refusal({ network: 'slirp4netns', publish: ['80:80'] })).toMatch(/ports below 1024 need root/);
    expect(refusal({ network: 'bogus:1' })).toMatch(/unknown network mode "bogus"/);
    expect(refusal({ network: 'bad name!' })).toMatch(/not a mode, and not a valid network name/);
  });
});

describe('compose’s flags: --net NAME,…, --network-alias, --dns-option', () => {
  // A network's members need slirp4netns: the host's PATH has it where the tests are provisioned.
  const onPath: RequestHost = { ...host, pathVar: process.env.PATH };

  it('takes a one-network list as podman-compose writes it, and refuses more than one network', () => {
    expect(parseNetworkRequest(flags({ network: 'proj_default' }), [], onPath)).toMatchObject({
      mode: 'network',
      target: 'proj_default',
    });
    expect(parseNetworkRequest(flags({ network: 'proj_default,proj_default' }), [], onPath).target).toBe(
      'proj_default',
    );
    expect(refusal({ network: 'front,back' })).toBe('--network front,back: hutch connects a container to one network');
  });

  it('keeps network aliases (once each) on a network, and refuses them elsewhere in podman’s words', () => {
    const request = parseNetworkRequest(flags({ network: 'net', aliases: ['web', 'www', 'web'] }), [], onPath);
    expect(request.aliases).toEqual(['web', 'www']);
    expect(parseNetworkRequest(flags({ network: 'net' }), [], onPath).aliases).toBeUndefined();
    expect(refusal({ network: 'none', aliases: ['web'] })).toBe(
      'invalid config provided: networks and static ip/mac address can only be used with Bridge mode networking',
    );
    expect(refusal({ network: 'net', aliases: ['not a name'] })).toBe(
      'invalid --network-alias "not a name": not a host name',
    );
  });

  it('keeps --dns-option values in order, and refuses what resolv.conf cannot hold', () => {
    const request = parseNetworkRequest(flags({ network: 'none', dnsOptions: ['ndots:3', 'rotate'] }), [], host);
    expect(request.dnsOptions).toEqual(['ndots:3', 'rotate']);
    expect(refusal({ network: 'none', dnsOptions: ['nd ots'] })).toBe('invalid --dns-option "nd ots"');
  });
});
