/**
 * `hutch ps` as podman 4.3 lists containers, as the unprivileged user: which
 * ones (-a, -n, --latest, a status filter, --filter), the PORTS of -p, --size,
 * --ns, --sort, Go templates and table templates, --noheading, JSON.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fail, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

describe.skipIf(need.skip)('ps', () => {
  let box: Sandbox;
  let runner: string;
  let stopped: string;
  let failed: string;
  let created: string;

  beforeAll(async () => {
    box = sandbox();
    ok(['import', await busyboxRootfsTar(), 'busybox'], box);
    runner = ok(
      [
        'run',
        '-d',
        '--name',
        'runner',
        '-l',
        'tier=web',
        '-p',
        '127.0.0.1::8080',
        '-p',
        '127.0.0.1::9000/udp',
        'busybox',
        'sleep',
        '120',
      ],
      box,
    ).trim();
    stopped = ok(['run', '-d', '--name', 'stopped', 'busybox', 'sh', '-c', 'echo hi > /file'], box).trim();
    ok(['wait', 'stopped'], box);
    failed = ok(['run', '-d', '--name', 'failed', 'busybox', 'false'], box).trim();
    ok(['wait', 'failed'], box);
    created = ok(['create', '--name', 'created', 'busybox', 'echo', 'hi'], box).trim();
  });
  afterAll(() => {
    ok(['rm', '-t', '0', '-a', '-f'], box);
    box.dispose();
  });

  it('lists the running containers, or every one with -a, oldest first', () => {
    expect(ok(['ps', '--format', '{{.Names}}'], box)).toBe('runner\n');
    expect(ok(['ps', '-a', '--format', '{{.Names}}'], box)).toBe('runner\nstopped\nfailed\ncreated\n');
    expect(ok(['ps', '-a', '-q', '--no-trunc'], box)).toBe(`${runner}\n${stopped}\n${failed}\n${created}\n`);
    expect(ok(['ps', '-n', '2', '--format', '{{.Names}}'], box)).toBe('failed\ncreated\n');
    expect(ok(['ps', '--latest', '--format', '{{.Names}}'], box)).toBe('created\n');
    const table = ok(['ps', '-a'], box).split('\n');
    expect(table[0]).toMatch(/^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$/);
    expect(table[1]).toMatch(new RegExp(`^${runner.slice(0, 12)} +\\S+busybox\\S* +sleep 120 +.* ago +Up .* ago +`));
    expect(table[3]).toMatch(/ Exited \(1\) .* ago +failed$/);
    expect(table[4]).toMatch(/ Created +created$/);
    expect(ok(['ps', '--noheading', '--filter', 'name=nothing'], box)).toBe('');
  });

  it('shows -p mappings in PORTS as podman prints them, the chosen host ports included', () => {
    const ports = ok(['ps', '--format', '{{.Ports}}'], box).trim();
    expect(ports).toMatch(/^127\.0\.0\.1:\d+->8080\/tcp, 127\.0\.0\.1:\d+->9000\/udp$/);
    const port = ok(['port', 'runner', '8080'], box).trim();
    expect(ports).toContain(`${port}->8080/tcp`);
    const [json] = JSON.parse(ok(['ps', '--format', 'json'], box)) as { Ports: { container_port: number }[] }[];
    expect(json?.Ports.map((p) => p.container_port)).toEqual([8080, 9000]);
  });

  it('filters as podman: status lists every state it names, other keys the running ones without -a', () => {
    expect(ok(['ps', '--filter', 'name=stopped', '--format', '{{.ID}}'], box)).toBe('');
    expect(ok(['ps', '-a', '--filter', 'name=stopped', '--format', '{{.ID}}'], box)).toBe(`${stopped.slice(0, 12)}\n`);
    expect(ok(['ps', '--filter', 'status=stopped', '--format', '{{.Names}}', '--sort', 'names'], box)).toBe(
      'failed\nstopped\n',
    );
    expect(ok(['ps', '--filter', 'status=exited', '--filter', 'exited=1', '--format', '{{.Names}}'], box)).toBe(
      'failed\n',
    );
    expect(
      ok(['ps', '-a', '--filter', 'status=exited', '--filter', 'status=running', '--format', '{{.Names}}'], box),
    ).toBe('runner\nstopped\nfailed\n');
    expect(ok(['ps', '-a', '--filter', 'label=tier=web', '-q'], box)).toBe(`${runner.slice(0, 12)}\n`);
    expect(ok(['ps', '-a', '--filter', 'since=failed', '--format', '{{.Names}}'], box)).toBe('created\n');
    const image = ok(['ps', '--format', '{{.Image}}'], box).trim();
    expect(ok(['ps', '-a', '--filter', `ancestor=${image}`, '-q'], box).split('\n')).toHaveLength(5);
    expect(ok(['ps', '-a', '--filter', 'ancestor=nosuch', '-q'], box)).toBe('');
    expect(fail(['ps', '--filter', 'foo=bar'], box)).toBe('Error: foo is an invalid filter');
    expect(fail(['ps', '--filter', 'status=bogus'], box)).toBe(
      'Error: unknown container state: bogus: invalid argument',
    );
    expect(fail(['ps', '--filter', 'before=nosuch'], box)).toBe(
      'Error: no container with name or ID "nosuch" found: no such container',
    );
  });

  it('sorts, and prints templates and table templates with podman’s headings', () => {
    expect(ok(['ps', '-a', '--sort', 'names', '--format', '{{.Names}}'], box)).toBe(
      'created\nfailed\nrunner\nstopped\n',
    );
    expect(fail(['ps', '--sort', 'bogus'], box)).toMatch(/^Error: invalid argument "bogus" for "--sort" flag/);
    const lines = ok(['ps', '--format', 'table {{.ID}}\t{{.Names}} {{.RunningFor}}'], box).split('\n');
    expect(lines[0]).toMatch(/^CONTAINER ID +NAMES +RUNNING FOR$/);
    expect(lines[1]).toMatch(new RegExp(`^${runner.slice(0, 12)} +runner +.* ago$`));
    expect(ok(['ps', '--format', '{{.ID}} {{.Names}} {{.Status}}'], box)).toMatch(
      new RegExp(`^${runner.slice(0, 12)} runner Up .* ago\n$`),
    );
  });

  it('adds sizes with --size and namespaces with --ns, and refuses them with -q or together', () => {
    const sizes = ok(['ps', '-a', '--size', '--filter', 'name=stopped', '--format', '{{.Size}}'], box).trim();
    expect(sizes).toMatch(/^\d+(\.\d+)?[kM]?B \(virtual \d+(\.\d+)?[kM]?B\)$/);
    expect(sizes).not.toMatch(/^0B/);
    const ns = ok(['ps', '--ns'], box).split('\n');
    expect(ns[0]).toMatch(/^CONTAINER ID +NAMES +PID +CGROUPNS +IPC +MNT +NET +PIDNS +USERNS +UTS$/);
    expect(ns[1]).toMatch(new RegExp(`^${runner.slice(0, 12)} +runner +\\d+( +\\d+){7}$`));
    expect(fail(['ps', '-q', '--size'], box)).toBe('Error: quiet conflicts with size and namespace');
    expect(fail(['ps', '--size', '--ns'], box)).toBe('Error: size and namespace options conflict');
    expect(ok(['ps', '--pod'], box).split('\n')[0]).toMatch(/ +NAMES +POD ID +PODNAME$/);
    expect(ok(['ps', '--all', '--external', '--format', '{{.ID}} {{.Names}}'], box).split('\n')).toHaveLength(5);
  });
});
