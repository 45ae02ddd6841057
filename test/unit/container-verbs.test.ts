/**
 * The pure parts of the container verbs: the k8s-file log parser and time
 * flags (logs), top's descriptors and Go durations,
 * commit's --change check and config.
 */
import { describe, expect, it } from 'vitest';
import { containerRecord } from '../helpers/container-records.js';
import { applyChanges, committedConfig, mountPoints } from '../../src/run/container/commit.js';
import { formatLogTimestamp, LogParser, parseLogTime } from '../../src/run/container/logs.js';
import type { Container, ContainerOptions } from '../../src/run/container/store.js';
import { goDuration, parseDescriptors } from '../../src/run/container/top.js';

describe('LogParser', () => {
  it('joins P entries of a stream until its F entry, streams apart', () => {
    const parser = new LogParser();
    const lines = parser.feed(
      Buffer.from(
        [
          '2026-11-25T13:00:00.1+00:00 stdout P par',
          '2026-11-25T13:00:00.2+00:00 stderr F err',
          '2026-11-25T13:00:00.3+00:00 stdout F tial',
          '2026-11-25T13:00:00.4+00:00 stdout F ',
          '',
        ].join('\n'),
      ),
    );
    expect(lines.map((l) => [l.stream, l.text.toString(), l.timestamp])).toEqual([
      ['stderr', 'err', '2026-11-25T13:00:00.2+00:00'],
      ['stdout', 'partial', '2026-11-25T13:00:00.1+00:00'],
      ['stdout', '', '2026-11-25T13:00:00.4+00:00'],
    ]);
    expect(parser.end()).toEqual([]);
  });

  it('keeps bytes: a UTF-8 character split between entries and between reads comes out whole', () => {
    const parser = new LogParser();
    const euro = Buffer.from('€');
    const log = Buffer.concat([
      Buffer.from('T stdout P a'),
      euro.subarray(0, 1),
      Buffer.from('\nT stdout F '),
      euro.subarray(1),
      Buffer.from('b\n'),
    ]);
    const lines = [...parser.feed(log.subarray(0, 7)), ...parser.feed(log.subarray(7))];
    expect(lines.map((l) => l.text.toString('utf8'))).toEqual(['a€b']);
  });

  it('gives an unfinished last line at the end, and skips lines it cannot read', () => {
    const parser = new LogParser();
    expect(parser.feed(Buffer.from('garbage\nT stdin F x\nT stdout P no newline\n'))).toEqual([]);
    const [last] = parser.end();
    expect(last?.text.toString()).toBe('no newline');
    expect(last?.complete).toBe(false);
  });
});

describe('log times', () => {
  const now = Date.parse('2026-11-25T13:00:00Z');
  it('reads Go durations, Unix seconds and RFC 3339', () => {
    expect(parseLogTime('--since', '10m', now)).toBe(now - 600_000);
    expect(parseLogTime('--since', '1h30m', now)).toBe(now - 5_400_000);
    expect(parseLogTime('--since', '1.5s', now)).toBe(now - 1500);
    expect(parseLogTime('--since', '1700000000', now)).toBe(1_700_000_000_000);
    expect(parseLogTime('--since', '1700000000.25', now)).toBe(1_700_000_000_250);
    expect(parseLogTime('--since', '2026-11-25T12:00:00Z', now)).toBe(now - 3_600_000);
    expect(parseLogTime('--since', '2026-11-25', now)).toBe(Date.parse('2026-11-25'));
    expect(() => parseLogTime('--since', 'yesterday', now)).toThrow('parsing --since "yesterday"');
    expect(() => parseLogTime('--until', '10x', now)).toThrow('unable to interpret time value');
  });

  it('prints the monitor’s timestamps as podman does', () => {
    expect(formatLogTimestamp('2026-11-25T13:00:00.123456789+00:00')).toBe('2026-11-25T13:00:00.123456789Z');
    expect(formatLogTimestamp('2026-11-25T13:00:00.120000000+00:00')).toBe('2026-11-25T13:00:00.12Z');
    expect(formatLogTimestamp('2026-11-25T13:00:00.000000000+00:00')).toBe('2026-11-25T13:00:00Z');
    expect(formatLogTimestamp('2026-11-25T13:00:00.5+02:00')).toBe('2026-11-25T13:00:00.5+02:00');
  });
});

describe('top', () => {
  it('prints durations as Go does', () => {
    expect(goDuration(0)).toBe('0s');
    expect(goDuration(0.01)).toBe('10ms');
    expect(goDuration(0.8266229)).toBe('826.6229ms');
    expect(goDuration(1.5)).toBe('1.5s');
    expect(goDuration(8.831327559)).toBe('8.831327559s');
    expect(goDuration(77.5)).toBe('1m17.5s');
    expect(goDuration(3600)).toBe('1h0m0s');
    expect(goDuration(0.0000015)).toBe('1.5µs');
  });

  it('takes psgo descriptors, separated by blanks or commas; anything else goes to ps(1)', () => {
    expect(parseDescriptors([])).toEqual(['user', 'pid', 'ppid', 'pcpu', 'etime', 'tty', 'time', 'args']);
    expect(parseDescriptors(['pid', 'user,args'])).toEqual(['pid', 'user', 'args']);
    expect(parseDescriptors(['-o', 'pid'])).toBeUndefined();
    expect(parseDescriptors(['foo'])).toBeUndefined();
  });
});

function container(
  options: Partial<ContainerOptions>,
  imageConfig: Container['config']['imageConfig'] = {},
): Container {
  return containerRecord({ options: { network: 'none', ...options }, imageConfig });
}

describe('commit', () => {
  it('keeps the image config and adds what the container was run with (docker’s rules)', () => {
    const image = { Env: ['PATH=/bin', 'A=1'], Cmd: ['sh'], Entrypoint: ['/init'], Labels: { a: 'b' } };
    expect(committedConfig(container({}, image))).toEqual(image);
    const config = committedConfig(
      container(
        { command: ['sleep', '1'], env: ['A=2', 'B=3'], user: '1000', workdir: '/w', labels: { c: 'd' } },
        image,
      ),
    );
    expect(config).toEqual({
      Env: ['PATH=/bin', 'A=2', 'B=3'],
      Cmd: ['sleep', '1'],
      Entrypoint: ['/init'],
      User: '1000',
      WorkingDir: '/w',
      Labels: { a: 'b', c: 'd' },
    });
    // A new entrypoint drops the image's CMD, as it did for the run.
    const cleared = committedConfig(container({ entrypoint: ['/other'] }, image));
    expect(cleared.Entrypoint).toEqual(['/other']);
    expect(cleared.Cmd).toBeNull();
  });

  it('applies --change instructions podman accepts and refuses others', () => {
    const config = {};
    applyChanges(config, ['CMD ["a"]', 'ENV X=1', 'EXPOSE 80', 'STOPSIGNAL SIGINT', 'volume /v']);
    expect(config).toEqual({
      Cmd: ['a'],
      Env: ['X=1'],
      ExposedPorts: { '80/tcp': {} },
      StopSignal: 'SIGINT',
      Volumes: { '/v': {} },
    });
    expect(() => applyChanges({}, ['RUN make'])).toThrow('invalid change "RUN make" - invalid instruction RUN');
    expect(() => applyChanges({}, ['nonsense'])).toThrow('invalid instruction NONSENSE');
  });

  it('leaves out the mount points hutch made, volume destinations and their parents too', () => {
    const points = mountPoints(
      container({
        mounts: [{ type: 'tmpfs', destination: '/var/cache/x', readonly: false, data: [], options: [] }],
      }),
    );
    expect(points).toEqual(
      expect.arrayContaining(['/etc/hosts', '/proc', '/dev/null', '/var', '/var/cache', '/var/cache/x']),
    );
  });
});
