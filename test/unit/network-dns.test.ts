import { describe, expect, it } from 'vitest';
import {
  containerResolvConf,
  etcFiles,
  hostsWithPeers,
  ownNames,
  parseAddHost,
  parseHosts,
  parseResolvConf,
  reachableNameservers,
} from '../../src/run/network/dns.js';

const HOST_HOSTS = '# the host\n127.0.0.1 localhost\n10.1.1.1  build.example.test  build # a mirror\n\nbogus line\n';
const HOST_RESOLV = 'nameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch corp.test\noptions edns0 trust-ad\n';
const noFlags = { addHost: [], dns: [], dnsSearch: [] };

describe('/etc/hosts', () => {
  it("is --add-host, the host's entries, the container's names, then the host's names when it is reachable", () => {
    const { hosts } = etcFiles(
      { ...noFlags, addHost: ['db:10.0.2.50', 'gw:host-gateway'] },
      { hostname: 'web1', name: 'web' },
      { hosts: HOST_HOSTS, resolvConf: '' },
      { address: '10.0.2.100', hostGateway: '10.0.2.2', nameservers: ['10.0.2.3'] },
    );
    expect(hosts).toBe(
      [
        '10.0.2.50\tdb',
        '10.0.2.2\tgw',
        '127.0.0.1\tlocalhost',
        '10.1.1.1\tbuild.example.test build',
        '10.0.2.100\tweb1 web',
        '10.0.2.2\thost.containers.internal host.docker.internal',
        '',
      ].join('\n'),
    );
  });

  it('adds localhost when the host lacks it, 127.0.1.1 without an address, no host names when unreachable', () => {
    const { hosts } = etcFiles(
      noFlags,
      { hostname: 'same', name: 'same' },
      { hosts: '', resolvConf: '' },
      { address: undefined, hostGateway: undefined, nameservers: [] },
    );
    expect(hosts).toBe(
      '127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4\n::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6\n127.0.1.1\tsame\n',
    );
    expect(() =>
      etcFiles(
        { ...noFlags, addHost: ['gw:host-gateway'] },
        { hostname: 'a', name: 'a' },
        { hosts: '', resolvConf: '' },
        { address: undefined, hostGateway: undefined, nameservers: [] },
      ),
    ).toThrow('--add-host gw:host-gateway: the host is not reachable');
  });

  it('parses hosts files and --add-host', () => {
    expect(parseHosts(HOST_HOSTS)).toEqual([
      { address: '127.0.0.1', names: ['localhost'] },
      { address: '10.1.1.1', names: ['build.example.test', 'build'] },
    ]);
    expect(parseAddHost('v6:[::1]')).toEqual({ address: '::1', names: ['v6'] });
    expect(() => parseAddHost('nocolon')).toThrow('invalid --add-host "nocolon": no IP address after the name');
    expect(() => parseAddHost('a:999.1.1.1')).toThrow('"999.1.1.1" is not an IP address');
    expect(() => parseAddHost('-bad:1.2.3.4')).toThrow('"-bad" is not a host name');
  });
});

describe('/etc/resolv.conf', () => {
  it("keeps the host's search and options, replaces the servers; --dns and --dns-search override", () => {
    const host = parseResolvConf(HOST_RESOLV);
    expect(host).toEqual({
      nameservers: ['127.0.0.53', '192.0.2.1'],
      search: ['corp.test'],
      options: ['edns0', 'trust-ad'],
    });
    expect(containerResolvConf(host, { nameservers: ['10.0.2.3'] }, { dns: [], dnsSearch: [] })).toBe(
      'search corp.test\nnameserver 10.0.2.3\noptions edns0 trust-ad\n',
    );
    expect(containerResolvConf(host, { nameservers: ['10.0.2.3'] }, { dns: ['192.0.2.9'], dnsSearch: ['.'] })).toBe(
      'nameserver 192.0.2.9\noptions edns0 trust-ad\n',
    );
    expect(reachableNameservers(HOST_RESOLV)).toEqual(['192.0.2.1']);
    expect(reachableNameservers('nameserver ::1\n')).toEqual([]);
  });
});

describe('network aliases and --dns-option', () => {
  it('gives a container its aliases after its host name and name, once each, in its own file and its peers’', () => {
    expect(ownNames('abc123', 'proj_web_1', ['web', 'www', 'web'])).toEqual(['abc123', 'proj_web_1', 'web', 'www']);
    expect(ownNames('web', 'web', ['web'])).toEqual(['web']);
    const { hosts } = etcFiles(
      { ...noFlags, aliases: ['web'] },
      { hostname: 'abc123', name: 'proj_web_1' },
      { hosts: '127.0.0.1 localhost\n', resolvConf: '' },
      { address: '10.89.0.10', hostGateway: undefined, nameservers: ['10.89.0.3'] },
    );
    expect(hosts).toBe('127.0.0.1\tlocalhost\n10.89.0.10\tabc123 proj_web_1 web\n');
    const peers = [{ address: '10.89.0.11', names: ownNames('def456', 'proj_client_1', ['client']) }];
    expect(hostsWithPeers(hosts, peers)).toContain('\n10.89.0.11\tdef456 proj_client_1 client\n');
  });

  it('replaces the host’s options with --dns-option’s, in order', () => {
    const host = parseResolvConf(HOST_RESOLV);
    const flags = { dns: [], dnsSearch: [], dnsOptions: ['ndots:3', 'timeout:1'] };
    expect(containerResolvConf(host, { nameservers: ['10.0.2.3'] }, flags)).toBe(
      'search corp.test\nnameserver 10.0.2.3\noptions ndots:3 timeout:1\n',
    );
  });
});
