/**
 * The other network modes as the unprivileged user: user-defined networks
 * (members reach each other by name, other networks cannot reach them),
 * pasta (published port, host loopback, its helper dies with the
 * container), container:NAME and host. Traffic goes only to 127.0.0.1 and to
 * addresses inside the namespaces these containers and networks create.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fail, hutch, hutchRun, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { helpersGone, hostGet, loopbackServer, networkHelpers } from '../helpers/network.js';
import { freePort } from '../helpers/registry.js';
import { requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

describe.skipIf(need.skip)('network modes', () => {
  let box: Sandbox;
  let host: Awaited<ReturnType<typeof loopbackServer>>;
  const inspect = (name: string, format: string) => ok(['inspect', '--format', format, name], box).trim();
  const httpd = (name: string, ...flags: string[]) =>
    ok(['run', '-d', '--name', name, ...flags, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc'], box);

  beforeAll(async () => {
    box = sandbox();
    ok(['import', await busyboxRootfsTar(), 'busybox'], box);
    host = await loopbackServer('hello from the host\n');
  });
  afterAll(() => {
    host?.server.close();
    hutch(['rm', '-t', '0', '-af'], box);
    hutch(['network', 'prune', '-f'], box);
    box.dispose();
  });

  it('containers on one network reach each other by name and publish ports; another network cannot reach them', async () => {
    expect(ok(['network', 'create', 'front'], box)).toBe('front\n');
    expect(ok(['network', 'create', '--subnet', '10.89.7.0/24', 'back'], box)).toBe('back\n');
    expect(ok(['network', 'ls', '--format', '{{.Name}} {{.Subnet}}'], box)).toBe(
      'back 10.89.7.0/24\nfront 10.89.0.0/24\n',
    );
    const port = await freePort();
    httpd('server', '--network', 'front', '-p', `${port}:80`);
    ok(['run', '-d', '--name', 'client', '--network', 'front', 'busybox', 'sleep', '300'], box);
    ok(['run', '-d', '--name', 'outsider', '--network', 'back', 'busybox', 'sleep', '300'], box);
    const serverId = inspect('server', '{{.Id}}');
    // Published through the network's slirp4netns to the member's address.
    expect(await hostGet(port, '/hostname')).toBe(`${serverId.slice(0, 12)}\n`);
    // By name, through /etc/hosts (rewritten for every member when one joins).
    expect(ok(['exec', 'client', 'wget', '-q', '-O-', 'http://server/hostname'], box)).toBe(
      `${serverId.slice(0, 12)}\n`,
    );
    expect(ok(['exec', 'server', 'cat', '/etc/hosts'], box)).toMatch(/^10\.89\.0\.\d+\t[0-9a-f]{12} client$/m);
    const address = /^(10\.89\.0\.\d+)\t[0-9a-f]{12} server$/m.exec(
      ok(['exec', 'client', 'cat', '/etc/hosts'], box),
    )?.[1];
    expect(address).toBeDefined();
    expect(ok(['exec', 'outsider', 'cat', '/etc/hosts'], box)).not.toContain('server');
    const blocked = hutch(['exec', 'outsider', 'wget', '-q', '-O-', `http://${address}/hostname`], box);
    expect(blocked.status).not.toBe(0);
    expect(blocked.stderr).toMatch(/can't connect to remote host .*: (No route to host|Network is unreachable)/);
    const inspected = JSON.parse(ok(['network', 'inspect', 'front'], box)) as {
      running: boolean;
      containers: Record<string, { name: string }>;
    }[];
    expect(inspected[0]?.running).toBe(true);
    expect(
      Object.values(inspected[0]?.containers ?? {})
        .map((c) => c.name)
        .sort(),
    ).toEqual(['client', 'server']);
    expect(fail(['network', 'rm', 'front'], box)).toMatch(/"front" has associated containers with it/);
  });

  it('a network stops with its last member; network rm -f removes its containers', async () => {
    ok(['rm', '-t', '0', '-f', 'outsider'], box);
    // back had one member: its slirp4netns is gone with it.
    expect(networkHelpers(box.runtime).filter((cmd) => cmd.includes('/networks/back/'))).toEqual([]);
    expect(ok(['network', 'rm', 'back'], box)).toBe('back\n');
    expect(ok(['network', 'rm', '-f', 'front'], box)).toBe('front\n');
    expect(ok(['ps', '-a', '--format', 'json'], box)).not.toMatch(/"(server|client)"/);
    expect(await helpersGone(box.runtime)).toEqual([]);
    expect(ok(['network', 'ls', '-q'], box)).toBe('');
  });

  it('--network pasta: -p publishes, allow_host_loopback reaches the host, the helper goes with the container', async () => {
    const port = await freePort();
    httpd('pasta-web', '--network', 'pasta', '-p', `${port}:80`);
    const id = inspect('pasta-web', '{{.Id}}');
    expect(await hostGet(port, '/hostname')).toBe(`${id.slice(0, 12)}\n`);
    expect(ok(['port', 'pasta-web'], box)).toBe(`80/tcp -> 0.0.0.0:${port}\n`);
    expect(ok(['exec', 'pasta-web', 'cat', '/etc/resolv.conf'], box)).toBe('nameserver 10.0.2.3\n');
    expect(networkHelpers(box.runtime)).toHaveLength(1);
    ok(['stop', '-t', '1', 'pasta-web'], box);
    expect(networkHelpers(box.runtime)).toEqual([]);

    const allowed = await hutchRun(
      [
        'run',
        '--rm',
        '--network',
        'pasta:allow_host_loopback=true',
        'busybox',
        'wget',
        '-q',
        '-O-',
        `http://host.containers.internal:${host.port}/`,
      ],
      box,
    );
    expect(allowed.stdout).toBe('hello from the host\n');
    // Without allow_host_loopback pasta maps nothing to the host: 10.0.2.2 would be sent on to the
    // host's real network, which a test must not do, so the refusal is checked with slirp4netns only.
    expect(ok(['run', '--rm', '--network', 'pasta', 'busybox', 'cat', '/etc/hosts'], box)).not.toContain(
      'host.containers.internal',
    );

    // Killed monitor and container: pasta's watcher ends with the container, and pasta with its watcher.
    ok(['start', 'pasta-web'], box);
    await hostGet(port, '/hostname');
    const pid = Number(inspect('pasta-web', '{{.State.Pid}}'));
    expect(networkHelpers(box.runtime, [pid])).toHaveLength(2);
    process.kill(Number(inspect('pasta-web', '{{.State.ConmonPid}}')), 'SIGKILL');
    process.kill(pid, 'SIGKILL');
    expect(await helpersGone(box.runtime, [pid])).toEqual([]);
    ok(['rm', '-t', '0', '-f', 'pasta-web'], box);
  });

  it("--network container:NAME shares the other container's namespace and its /etc files", () => {
    httpd('owner', '--hostname', 'owner-host');
    const ownerId = inspect('owner', '{{.Id}}');
    const out = ok(
      [
        'run',
        '--rm',
        '--network',
        'container:owner',
        'busybox',
        'sh',
        '-c',
        'wget -q -O- http://127.0.0.1/hostname; cat /etc/hosts',
      ],
      box,
    );
    expect(out).toContain('owner-host\n');
    expect(out).toMatch(/^10\.0\.2\.100\towner-host owner$/m);
    expect(inspect('owner', '{{.Id}}')).toBe(ownerId);
    // Nothing of its own to publish, and the joined container must run.
    expect(fail(['run', '--rm', '--network', 'container:owner', '-p', '8080:80', 'busybox', 'true'], box)).toMatch(
      /-p cannot be used with --network container:owner/,
    );
    ok(['stop', '-t', '1', 'owner'], box);
    expect(fail(['run', '--rm', '--network', 'container:owner', 'busybox', 'true'], box)).toMatch(
      /--network container:owner: container owner is not running/,
    );
    ok(['rm', 'owner'], box);
  });

  it("--network host: the host's interfaces, its loopback servers and its /etc/hosts", async () => {
    const result = await hutchRun(
      [
        'run',
        '--rm',
        '--network',
        'host',
        'busybox',
        'sh',
        '-c',
        `wget -q -O- http://127.0.0.1:${host.port}/; cat /proc/net/dev | wc -l; cat /etc/hosts`,
      ],
      box,
    );
    expect(result.stderr).toBe('');
    const [body, devices, ...hostsLines] = result.stdout.split('\n');
    expect(`${body}\n`).toBe('hello from the host\n');
    expect(Number(devices)).toBe(readFileSync('/proc/net/dev', 'utf8').trimEnd().split('\n').length);
    expect(hostsLines.join('\n')).toContain(readFileSync('/etc/hosts', 'utf8').trim());
    expect(inspect(ok(['create', '--network', 'host', 'busybox'], box).trim(), '{{.HostConfig.NetworkMode}}')).toBe(
      'host',
    );
  });
});
