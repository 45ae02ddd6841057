import { describe, expect, it } from 'vitest';
import {
  formatPs,
  goTimeString,
  portsText,
  psJson,
  psRow,
  PS_FIELDS,
  PS_NAMESPACE_FIELDS,
  sortPs,
  statusText,
  type PsFormatOptions,
} from '../../src/cli/format/ps.js';
import type { PsEntry } from '../../src/verbs/ps.js';
import { containerRecord } from '../helpers/container-records.js';

const now = Date.parse('2026-11-25T13:10:00Z');

const web: PsEntry = {
  container: containerRecord({
    id: `0c4c08c8f6d5${'e'.repeat(52)}`,
    name: 'web',
    created: '2026-11-25T13:00:00.250Z',
    image: 'localhost/bb:1',
    imageId: `ea96c614d19c${'f'.repeat(52)}`,
    options: { command: ['sleep', '300'], labels: { a: 'b' } },
    state: { status: 'running', pid: 9455, startedAt: '2026-11-25T13:00:01Z' },
  }),
  ports: [
    { hostIp: '', hostPort: 8082, containerPort: 81, protocol: 'tcp' },
    { hostIp: '127.0.0.1', hostPort: 9001, containerPort: 9001, protocol: 'udp' },
    { hostIp: '', hostPort: 8081, containerPort: 80, protocol: 'tcp' },
    { hostIp: '127.0.0.1', hostPort: 9000, containerPort: 9000, protocol: 'udp' },
    { hostIp: '', hostPort: 7000, containerPort: 7000, protocol: 'tcp' },
  ],
  networks: [],
  size: { rwSize: 12, rootFsSize: 1_980_000 },
};
const cr: PsEntry = {
  container: containerRecord({
    id: `576b420d80f5${'d'.repeat(52)}`,
    name: 'cr',
    created: '2026-11-25T13:00:02Z',
    image: 'localhost/bb:1',
    options: { command: ['sh', '-c', 'echo 1234567890 abcdefghijk'] },
  }),
  ports: [],
  networks: [],
  size: { rwSize: 0, rootFsSize: 1_980_000 },
};
const ex: PsEntry = {
  container: containerRecord({
    id: `1cfe09f6c1c3${'c'.repeat(52)}`,
    name: 'ex',
    created: '2026-11-25T13:00:01Z',
    image: 'localhost/bb:1',
    options: { command: ['true'] },
    state: { status: 'exited', exitCode: 3, startedAt: '2026-11-25T13:00:03Z', finishedAt: '2026-11-25T13:09:58Z' },
  }),
  ports: [],
  networks: ['backend'],
};

const table: PsFormatOptions = {
  quiet: false,
  noTrunc: false,
  noHeading: false,
  size: false,
  pod: false,
  namespaces: false,
  format: undefined,
  sort: 'created',
};

describe('ps rows', () => {
  it('prints ports as podman stores them: by address, protocol and host port, consecutive ones as ranges', () => {
    expect(portsText(web.ports)).toBe(
      '0.0.0.0:7000->7000/tcp, 0.0.0.0:8081-8082->80-81/tcp, 127.0.0.1:9000-9001->9000-9001/udp',
    );
    expect(portsText([])).toBe('');
  });

  it('says the state as podman’s ps: Up … ago, Exited (N) … ago, Created, Paused, Stopping', () => {
    expect(statusText(web.container, now)).toBe('Up 9 minutes ago');
    expect(statusText(ex.container, now)).toBe('Exited (3) 2 seconds ago');
    expect(statusText(cr.container, now)).toBe('Created');
    const stopping = { ...web.container, state: { ...web.container.state, stopping: true } };
    expect(statusText(stopping, now)).toBe('Stopping');
  });

  it('has podman’s fields, truncated as podman truncates them', () => {
    const row = psRow(web, { noTrunc: false }, now);
    expect(Object.keys(row)).toEqual([...PS_FIELDS, 'Namespaces', ...PS_NAMESPACE_FIELDS]);
    expect(row).toMatchObject({
      ID: '0c4c08c8f6d5',
      Image: 'localhost/bb:1',
      ImageID: 'ea96c614d19c',
      Command: 'sleep 300',
      CreatedAt: '2026-11-25 13:00:00.25 +0000 UTC',
      CreatedHuman: '9 minutes ago',
      Status: 'Up 9 minutes ago',
      Names: 'web',
      Labels: { a: 'b' },
      Size: '12B (virtual 1.98MB)',
      Pid: 9455,
      Exited: false,
      ExitedAt: -62135596800,
      StartedAt: Date.parse('2026-11-25T13:00:01Z') / 1000,
    });
    expect(psRow(cr, { noTrunc: false }, now).Command).toBe('sh -c echo 123456...');
    expect(psRow(cr, { noTrunc: true }, now)).toMatchObject({
      Command: 'sh -c echo 1234567890 abcdefghijk',
      ID: cr.container.config.id,
    });
    expect(psRow(ex, { noTrunc: false }, now)).toMatchObject({
      Exited: true,
      ExitCode: 3,
      Networks: 'backend',
      Pid: 0,
    });
  });

  it('prints Go’s time.Time.String()', () => {
    expect(goTimeString('2026-12-08T01:40:19.000Z')).toMatch(/^2026-12-08 \d\d:40:19 [+-]\d{4} \S+$/);
  });
});

describe('ps --sort', () => {
  it('sorts ascending, ties in creation order', () => {
    const order = (key: PsFormatOptions['sort']) => sortPs([web, ex, cr], key).map((e) => e.container.config.name);
    expect(order('created')).toEqual(['web', 'ex', 'cr']);
    expect(order('names')).toEqual(['cr', 'ex', 'web']);
    expect(order('status')).toEqual(['cr', 'ex', 'web']);
    expect(order('command')).toEqual(['cr', 'web', 'ex']);
    expect(order('id')).toEqual(['web', 'ex', 'cr']);
    expect(order('runningfor')).toEqual(['cr', 'web', 'ex']);
  });
});

describe('formatPs', () => {
  it('prints podman’s table, oldest first', () => {
    const lines = formatPs([web, ex], table, now).split('\n');
    expect(lines[0]?.split(/ {2,}/)).toEqual([
      'CONTAINER ID',
      'IMAGE',
      'COMMAND',
      'CREATED',
      'STATUS',
      'PORTS',
      'NAMES',
    ]);
    // Columns as Go's tabwriter pads them: the widest cell and two spaces, 12 at least.
    expect(lines[0]?.indexOf('COMMAND')).toBe('localhost/bb:1'.length + 2 + 14);
    expect(lines[1]?.split(/ {2,}/)).toEqual([
      '0c4c08c8f6d5',
      'localhost/bb:1',
      'sleep 300',
      '9 minutes ago',
      'Up 9 minutes ago',
      portsText(web.ports),
      'web',
    ]);
    expect(formatPs([], table, now)).toBe(
      'CONTAINER ID  IMAGE       COMMAND     CREATED     STATUS      PORTS       NAMES\n',
    );
    expect(formatPs([], { ...table, noHeading: true }, now)).toBe('');
  });

  it('adds the pod columns (empty: no pods) and the size column', () => {
    const heading = formatPs([web], { ...table, pod: true, size: true }, now).split('\n')[0];
    expect(heading?.split(/ {2,}/).slice(-3)).toEqual(['POD ID', 'PODNAME', 'SIZE']);
    const ns = formatPs([ex], { ...table, namespaces: true }, now).split('\n')[0];
    expect(ns?.split(/ {2,}/)).toEqual([
      'CONTAINER ID',
      'NAMES',
      'PID',
      'CGROUPNS',
      'IPC',
      'MNT',
      'NET',
      'PIDNS',
      'USERNS',
      'UTS',
    ]);
  });

  it('takes Go templates, and table templates with headings from the field names', () => {
    expect(formatPs([web, ex], { ...table, format: '{{.ID}} {{.Names}}' }, now)).toBe(
      '0c4c08c8f6d5 web\n1cfe09f6c1c3 ex\n',
    );
    const text = formatPs([web], { ...table, format: 'table {{.ID}} {{.Names}} {{.RunningFor}} {{.ImageID}}' }, now);
    expect(text.split('\n')[0]?.split(/ {2,}/)).toEqual(['CONTAINER ID', 'NAMES', 'RUNNING FOR', 'IMAGE ID']);
    expect(formatPs([web], { ...table, format: 'table {{.Names}}', noHeading: true }, now)).toBe('web\n');
    expect(formatPs([web, ex], { ...table, quiet: true }, now)).toBe('0c4c08c8f6d5\n1cfe09f6c1c3\n');
  });

  it('prints podman’s JSON: its keys in its order, ports as ranges, null for none', () => {
    const json = psJson(web, now);
    expect(Object.keys(json)).toEqual([
      'AutoRemove',
      'Command',
      'CreatedAt',
      'Exited',
      'ExitedAt',
      'ExitCode',
      'Id',
      'Image',
      'ImageID',
      'IsInfra',
      'Labels',
      'Mounts',
      'Names',
      'Namespaces',
      'Networks',
      'Pid',
      'Pod',
      'PodName',
      'Ports',
      'Size',
      'StartedAt',
      'State',
      'Status',
      'Created',
    ]);
    expect(json.Ports).toContainEqual({ host_ip: '', container_port: 80, host_port: 8081, range: 2, protocol: 'tcp' });
    expect(json).toMatchObject({ State: 'running', Status: 'Up 9 minutes ago', CreatedAt: '9 minutes ago' });
    expect(psJson(cr, now)).toMatchObject({ Ports: null, Labels: null, State: 'created' });
  });
});
