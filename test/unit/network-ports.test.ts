import { describe, expect, it } from 'vitest';
import { HutchError } from '../../src/errors.js';
import {
  checkPrivilegedPorts,
  combinePublished,
  exposedMappings,
  formatPort,
  parsePublish,
  portMap,
  unprivilegedPortStart,
} from '../../src/run/network/ports.js';

const tcp = (hostPort: number, containerPort: number, hostIp = '') => ({
  hostIp,
  hostPort,
  containerPort,
  protocol: 'tcp' as const,
});

describe('parsePublish', () => {
  it("reads podman's forms", () => {
    expect(parsePublish('80')).toEqual([tcp(0, 80)]);
    expect(parsePublish('8080:80')).toEqual([tcp(8080, 80)]);
    expect(parsePublish(':80')).toEqual([tcp(0, 80)]);
    expect(parsePublish('127.0.0.1:8080:80/udp')).toEqual([{ ...tcp(8080, 80, '127.0.0.1'), protocol: 'udp' }]);
    expect(parsePublish('127.0.0.1::80')).toEqual([tcp(0, 80, '127.0.0.1')]);
    expect(parsePublish('0.0.0.0:8080:80')).toEqual([tcp(8080, 80)]);
    expect(parsePublish('[::1]:8080:80')).toEqual([tcp(8080, 80, '::1')]);
    expect(parsePublish('8000-8001:80-81')).toEqual([tcp(8000, 80), tcp(8001, 81)]);
    expect(parsePublish('53:53/tcp,udp')).toEqual([tcp(53, 53), { ...tcp(53, 53), protocol: 'udp' }]);
  });

  it('refuses what it cannot mean, naming the part', () => {
    const message = (spec: string) => {
      try {
        parsePublish(spec);
      } catch (error) {
        expect(error).toBeInstanceOf(HutchError);
        return (error as Error).message;
      }
      throw new Error(`${spec} was accepted`);
    };
    expect(message('80:http')).toBe('invalid -p "80:http": container port "http" is not a port or a range of ports');
    expect(message('70000:80')).toBe('invalid -p "70000:80": host port 70000 is out of range (1-65535)');
    expect(message('8080:0')).toBe('invalid -p "8080:0": container port 0 is out of range (1-65535)');
    expect(message('80/sctp')).toBe('invalid -p "80/sctp": protocol "sctp" is not supported');
    expect(message('8000-8002:80-81')).toMatch(/the host range 8000-8002 has 3 ports, the container range 80-81 2/);
    expect(message('90-80')).toMatch(/container port range 90-80 ends before it starts/);
    expect(message('host:8080:80')).toMatch(/"host" is not an IP address/);
    expect(message('1:2:3:4')).toMatch(/too many colons/);
    expect(message('')).toMatch(/no container port/);
    expect(message('1-5000/tcp,udp')).toMatch(/10000 ports: at most 4096 may be published/);
  });
});

describe('ports around parsing', () => {
  it('-P publishes the exposed ports -p did not, and a host port is given once', () => {
    const exposed = exposedMappings(['80/tcp', '53/udp', '9000-9001', '7/sctp', 'junk']);
    expect(exposed.map(formatPort)).toEqual([
      '80/tcp -> 0.0.0.0:0',
      '53/udp -> 0.0.0.0:0',
      '9000/tcp -> 0.0.0.0:0',
      '9001/tcp -> 0.0.0.0:0',
    ]);
    expect(combinePublished([tcp(8080, 80)], exposed).map((m) => `${m.hostPort}:${m.containerPort}`)).toEqual([
      '8080:80',
      '0:53',
      '0:9000',
      '0:9001',
    ]);
    expect(() => combinePublished([tcp(8080, 80), tcp(8080, 81)], [])).toThrow(
      'host port 8080/tcp is published twice (to 80 and 81)',
    );
    expect(combinePublished([tcp(8080, 80, '127.0.0.1'), tcp(8080, 81, '127.0.0.2')], [])).toHaveLength(2);
  });

  it('refuses host ports under the unprivileged floor unless root, naming the sysctl', () => {
    expect(() => checkPrivilegedPorts([tcp(80, 80)], 1024, false)).toThrow(
      'cannot publish host port 80/tcp: ports below 1024 need root on this host (net.ipv4.ip_unprivileged_port_start=1024)',
    );
    const hint = (() => {
      try {
        checkPrivilegedPorts([tcp(443, 443), tcp(80, 80)], 1024, false);
      } catch (error) {
        return (error as HutchError).hint;
      }
      return 'accepted';
    })();
    expect(hint).toBe(
      'publish a host port of 1024 or above (-p 8443:443), or as root: sysctl -w net.ipv4.ip_unprivileged_port_start=80',
    );
    expect(() => checkPrivilegedPorts([tcp(80, 80)], 1024, true)).not.toThrow();
    expect(() => checkPrivilegedPorts([tcp(80, 80)], 80, false)).not.toThrow();
    expect(() => checkPrivilegedPorts([tcp(0, 80)], 1024, false)).not.toThrow();
    expect(unprivilegedPortStart(() => '80\n')).toBe(80);
    expect(unprivilegedPortStart(() => 'x')).toBe(1024);
    expect(
      unprivilegedPortStart(() => {
        throw new Error('ENOENT');
      }),
    ).toBe(1024);
  });

  it('prints mappings as podman port and inspect do', () => {
    expect(formatPort({ ...tcp(8080, 80, '::1') })).toBe('80/tcp -> [::1]:8080');
    expect(portMap([tcp(8080, 80), tcp(8081, 80, '127.0.0.1'), { ...tcp(0, 53), protocol: 'udp' }])).toEqual({
      '80/tcp': [
        { HostIp: '', HostPort: '8080' },
        { HostIp: '127.0.0.1', HostPort: '8081' },
      ],
      '53/udp': [{ HostIp: '', HostPort: '' }],
    });
  });
});
