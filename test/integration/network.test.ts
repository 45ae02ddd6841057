/**
 * Networking as the unprivileged user, with slirp4netns (the default):
 * published TCP and UDP ports answer from the host, the host's loopback is
 * reachable only when allowed, /etc/hosts and resolv.conf are the
 * container's, `hutch port` and inspect show the mappings, each bad input is
 * one line with exit 125 and leaves nothing behind, and the helper dies with
 * the container however it ends. Traffic goes only to 127.0.0.1 and to
 * slirp4netns's 10.0.2.x inside the containers' own namespaces; no name is
 * resolved through DNS.
 */
import { mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fail, hutch, hutchAsync, hutchRun, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { helpersGone, hostGet, loopbackServer, networkHelpers, udpEchoArgs, udpRoundTrip } from '../helpers/network.js';
import { freePort } from '../helpers/registry.js';
import { requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

describe.skipIf(need.skip)('networking with slirp4netns', () => {
  let box: Sandbox;
  let host: Awaited<ReturnType<typeof loopbackServer>>;

  const inspect = (name: string, format: string) => ok(['inspect', '--format', format, name], box).trim();
  const pidOf = (name: string) => Number(inspect(name, '{{.State.Pid}}'));
  const containerDirs = () => readdirSync(join(box.env.XDG_DATA_HOME as string, 'hutch', 'containers'));

  beforeAll(async () => {
    box = sandbox();
    ok(['import', await busyboxRootfsTar(), 'busybox'], box);
    host = await loopbackServer('hello from the host\n');
  });
  afterAll(() => {
    host?.server.close();
    hutch(['rm', '-t', '0', '-af'], box);
    box.dispose();
  });

  it('is the default: tap0 with 10.0.2.100, MTU 65520, a default route via 10.0.2.2, resolv.conf at 10.0.2.3', () => {
    const out = ok(
      [
        'run',
        '--rm',
        '--name',
        'probe',
        '--hostname',
        'box1',
        'busybox',
        'sh',
        '-c',
        'ip addr show tap0; ip route; cat /etc/resolv.conf /etc/hosts',
      ],
      box,
    );
    expect(out).toMatch(/tap0: .* mtu 65520 /);
    expect(out).toContain('inet 10.0.2.100/24');
    expect(out).toMatch(/^default via 10\.0\.2\.2 dev tap0/m);
    expect(out).toMatch(/^nameserver 10\.0\.2\.3$/m);
    // The host's entries are the base (podman's base_hosts_file), then the container's own names.
    expect(out).toMatch(/^10\.0\.2\.100\tbox1 probe$/m);
    expect(out).toMatch(/^127\.0\.0\.1\s+localhost/m);
    // The host is not reachable, so it has no name.
    expect(out).not.toContain('host.containers.internal');
  });

  it('--dns, --dns-search and --add-host shape resolv.conf and /etc/hosts; names resolve through /etc/hosts', () => {
    const out = ok(
      [
        'run',
        '--rm',
        '--dns',
        '10.0.2.3',
        '--dns',
        '192.0.2.53',
        '--dns-search',
        'example.test',
        '--add-host',
        'db.example.test:10.0.2.2',
        '--network',
        'slirp4netns:allow_host_loopback=true',
        '--add-host',
        'gw:host-gateway',
        'busybox',
        'sh',
        '-c',
        'cat /etc/resolv.conf; head -2 /etc/hosts',
      ],
      box,
    );
    expect(out).toContain('search example.test\nnameserver 10.0.2.3\nnameserver 192.0.2.53\n');
    expect(out).toContain('10.0.2.2\tdb.example.test\n10.0.2.2\tgw\n');
  });

  it('-p HOSTPORT:80 publishes busybox httpd; hutch port and inspect show the mapping; stop leaves no helper', async () => {
    const port = await freePort();
    ok(['run', '-d', '--name', 'web', '-p', `${port}:80`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc'], box);
    const id = inspect('web', '{{.Id}}');
    expect(await hostGet(port, '/hostname')).toBe(`${id.slice(0, 12)}\n`);
    expect(ok(['port', 'web'], box)).toBe(`80/tcp -> 0.0.0.0:${port}\n`);
    expect(ok(['port', 'web', '80'], box)).toBe(`0.0.0.0:${port}\n`);
    expect(inspect('web', '{{.HostConfig.NetworkMode}}')).toBe('slirp4netns');
    expect(inspect('web', '{{json .NetworkSettings.Ports}}')).toBe(`{"80/tcp":[{"HostIp":"","HostPort":"${port}"}]}`);
    expect(inspect('web', '{{json .HostConfig.PortBindings}}')).toBe(`{"80/tcp":[{"HostIp":"","HostPort":"${port}"}]}`);
    expect(networkHelpers(box.runtime)).toHaveLength(1);
    // exec joins the container's network namespace: the same tap0 address.
    expect(ok(['exec', 'web', 'ip', '-4', 'addr', 'show', 'tap0'], box)).toContain('10.0.2.100/24');
    ok(['stop', '-t', '1', 'web'], box);
    expect(networkHelpers(box.runtime)).toEqual([]);
    expect(ok(['port', 'web'], box)).toBe('');
    // start attaches again from the stored request, with the same port.
    ok(['start', 'web'], box);
    expect(await hostGet(port, '/hostname')).toBe(`${id.slice(0, 12)}\n`);
    ok(['restart', '-t', '1', 'web'], box);
    expect(await hostGet(port, '/hostname')).toBe(`${id.slice(0, 12)}\n`);
    expect(networkHelpers(box.runtime)).toHaveLength(1);
    ok(['rm', '-t', '0', '-f', 'web'], box);
    expect(networkHelpers(box.runtime)).toEqual([]);
  });

  it('-p with udp: a datagram to the host port reaches the container; with host loopback allowed, its answer comes back', async () => {
    const port = await freePort();
    ok(['run', '-d', '--name', 'udp', '-p', `127.0.0.1:${port}:5353/udp`, ...udpEchoArgs(5353)], box);
    try {
      expect(ok(['port', 'udp'], box)).toBe(`5353/udp -> 127.0.0.1:${port}\n`);
      // The answer goes to the sender as the container sees it, 10.0.2.2, which
      // --disable-host-loopback closes for UDP too (podman's issue 4586): check the log.
      await udpRoundTrip(port, 'one-way', 8).catch(() => undefined);
      expect(ok(['logs', 'udp'], box)).toContain('got one-way from 10.0.2.2\n');
    } finally {
      ok(['rm', '-t', '0', '-f', 'udp'], box);
    }
    const open = await freePort();
    ok(
      [
        'run',
        '-d',
        '--name',
        'udp2',
        '--network',
        'slirp4netns:allow_host_loopback=true',
        '-p',
        `${open}:5353/udp`,
        ...udpEchoArgs(5353),
      ],
      box,
    );
    try {
      expect(await udpRoundTrip(open, 'ping')).toBe('echo:ping');
    } finally {
      ok(['rm', '-t', '0', '-f', 'udp2'], box);
    }
    expect(networkHelpers(box.runtime)).toEqual([]);
  });

  it("-P publishes the image's EXPOSEd ports on free host ports", async () => {
    ok(['import', '--change', 'EXPOSE 80', '--change', 'EXPOSE 53/udp', await busyboxRootfsTar(), 'exposed'], box);
    ok(['run', '-d', '--name', 'all', '-P', 'exposed', 'httpd', '-f', '-p', '80', '-h', '/etc'], box);
    try {
      const lines = ok(['port', 'all'], box)
        .split('\n')
        .filter((l) => l !== '');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/^80\/tcp -> 0\.0\.0\.0:\d+$/);
      expect(lines[1]).toMatch(/^53\/udp -> 0\.0\.0\.0:\d+$/);
      const port = Number(lines[0]?.split(':')[1]);
      expect(await hostGet(port, '/hostname')).toBe(`${inspect('all', '{{.Id}}').slice(0, 12)}\n`);
      // A Go map (nat.PortMap): json marshals its keys sorted, as podman prints it.
      expect(inspect('all', '{{json .HostConfig.PortBindings}}')).toBe(
        '{"53/udp":[{"HostIp":"","HostPort":""}],"80/tcp":[{"HostIp":"","HostPort":""}]}',
      );
    } finally {
      ok(['rm', '-t', '0', '-f', 'all'], box);
    }
  });

  it("reaches a server on the host's loopback only with allow_host_loopback=true (10.0.2.2 and host.containers.internal)", async () => {
    const url = (where: string) => `http://${where}:${host.port}/`;
    const allowed = await hutchRun(
      [
        'run',
        '--rm',
        '--network',
        'slirp4netns:allow_host_loopback=true',
        'busybox',
        'sh',
        '-c',
        `wget -q -O- ${url('10.0.2.2')} && wget -q -O- ${url('host.containers.internal')} && grep host.containers.internal /etc/hosts`,
      ],
      box,
    );
    expect(allowed.stderr).toBe('');
    expect(allowed.stdout).toBe(
      'hello from the host\nhello from the host\n10.0.2.2\thost.containers.internal host.docker.internal\n',
    );
    const denied = await hutchRun(
      ['run', '--rm', 'busybox', 'sh', '-c', `timeout 5 wget -q -O- ${url('10.0.2.2')}; echo status $?`],
      box,
    );
    expect(denied.stdout).toMatch(/^status [1-9]\d*\n$/);
    expect(denied.stderr).toMatch(/wget: can't connect to remote host \(10\.0\.2\.2\)/);
  });

  it('refuses a host port in use, leaving no container and no helper', async () => {
    const port = await freePort();
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(port, '0.0.0.0', resolve));
    try {
      const before = containerDirs();
      const result = await hutchRun(['run', '--rm', '--name', 'busy', '-p', `${port}:80`, 'busybox', 'true'], box);
      expect(result.status).toBe(125);
      expect(result.stderr).toContain(
        `Error: cannot publish 0.0.0.0:${port}/tcp: the port is already in use on the host\n`,
      );
      expect(containerDirs()).toEqual(before);
      expect(ok(['ps', '-a', '--format', 'json'], box)).not.toContain('"busy"');
      expect(networkHelpers(box.runtime)).toEqual([]);
    } finally {
      holder.close();
    }
  });

  it('refuses an invalid -p, a host port below the unprivileged floor, and an unknown option, each in one line', () => {
    expect(fail(['run', '--rm', '-p', '80:http', 'busybox', 'true'], box)).toBe(
      'Error: invalid -p "80:http": container port "http" is not a port or a range of ports',
    );
    expect(fail(['run', '--rm', '-p', '8000-8002:80-81', 'busybox', 'true'], box)).toMatch(
      /the host range 8000-8002 has 3 ports, the container range 80-81 2/,
    );
    const low = hutch(['run', '--rm', '-p', '80:80', 'busybox', 'true'], box);
    expect(low.status).toBe(125);
    expect(low.stderr).toMatch(
      /^Error: cannot publish host port 80\/tcp: ports below 1024 need root on this host \(net\.ipv4\.ip_unprivileged_port_start=1024\)$/m,
    );
    expect(low.stderr).toMatch(/^hint: .*sysctl -w net\.ipv4\.ip_unprivileged_port_start=80$/m);
    expect(fail(['run', '--rm', '--network', 'slirp4netns:mtu=big', 'busybox', 'true'], box)).toMatch(
      /mtu "big" is not a number from 68 to 65521/,
    );
    expect(fail(['run', '--rm', '--network', 'none', '-p', '8080:80', 'busybox', 'true'], box)).toMatch(
      /-p cannot be used with --network none/,
    );
    expect(fail(['run', '--rm', '--add-host', 'x:host-gateway', 'busybox', 'true'], box)).toMatch(
      /the container cannot reach the host with --network slirp4netns/,
    );
    expect(ok(['ps', '-a', '-q'], box)).toBe('');
  });

  it('without slirp4netns on PATH: the error names the package and --network none', () => {
    // A PATH with everything of /usr/bin but slirp4netns.
    const bin = mkdtempSync(join(tmpdir(), 'hutch-noslirp-'));
    try {
      for (const name of readdirSync('/usr/bin'))
        if (name !== 'slirp4netns') symlinkSync(`/usr/bin/${name}`, join(bin, name));
      const env = { ...box.env, PATH: `${bin}:/usr/sbin:/sbin` };
      const result = hutch(['run', '--rm', 'busybox', 'true'], { env });
      expect(result.status).toBe(125);
      expect(result.stderr).toBe(
        'Error: --network slirp4netns: slirp4netns not found on PATH\nhint: install slirp4netns (Debian/Ubuntu: sudo apt-get install slirp4netns), or run without a network (--network none)\n',
      );
      expect(ok(['run', '--rm', '--network', 'none', 'busybox', 'true'], { env })).toBe('');
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('leaves no slirp4netns after the client is killed, nor after the monitor and the container are', async () => {
    const port = await freePort();
    const client = hutchAsync(
      ['run', '--name', 'victim', '-p', `${port}:80`, 'busybox', 'httpd', '-f', '-p', '80'],
      box,
    );
    // Running once the port answers (404: httpd serves no files from /).
    await hostGet(port, '/');
    client.kill('SIGKILL');
    await new Promise((resolve) => client.once('close', resolve));
    // The container and its helper run on without the client; stop ends both.
    expect(networkHelpers(box.runtime)).toHaveLength(1);
    ok(['stop', '-t', '1', 'victim'], box);
    expect(networkHelpers(box.runtime)).toEqual([]);

    ok(['start', 'victim'], box);
    await hostGet(port, '/');
    const pid = pidOf('victim');
    process.kill(Number(inspect('victim', '{{.State.ConmonPid}}')), 'SIGKILL');
    process.kill(pid, 'SIGKILL');
    // Nothing of hutch runs now: slirp4netns ends by itself once the container is reaped (--exit-fd).
    expect(await helpersGone(box.runtime)).toEqual([]);
    ok(['rm', '-t', '0', '-f', 'victim'], box);
  });
});
