/**
 * The container log's options (--log-driver, --log-opt) as podman 4.3 reads
 * them, the monitor argv they become, and the reader of a rotated log against
 * the rename sequence native/monitor_io.cc performs.
 */
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HutchError } from '../../src/errors.js';
import {
  formatLogSize,
  inspectLogConfig,
  monitorLogOptions,
  noLogsError,
  parseLogConfig,
  parseLogSize,
  refuseTerminalPassthrough,
} from '../../src/run/container/log-config.js';
import { fileId, logFiles, LogReader } from '../../src/run/container/logs.js';
import { monitorArgs, type MonitorOptions } from '../../src/run/monitor.js';
import { Plan } from '../../src/host/plan.js';

describe('parseLogSize', () => {
  // What `podman create --log-opt max-size=X` gave on the development host (podman 4.3.1):
  // conmon's --log-size-max, or the refusal.
  it.each([
    ['1m', 1_000_000],
    ['1mb', 1_000_000],
    ['1MB', 1_000_000],
    ['1MiB', 1_000_000],
    ['1mi', 1_000_000],
    ['1.5m', 1_500_000],
    ['10b', 10],
    ['10', 10],
    ['1ib', 1],
    ['1B', 1],
    ['1 k', 1000],
    ['2kib', 2000],
    ['1g', 1e9],
    ['1t', 1e12],
    ['1P', 1e15],
    ['0', 0],
    ['0.0001k', 0],
  ])('reads %j as podman does: %d bytes', (text, bytes) => {
    expect(parseLogSize(text)).toBe(bytes);
  });

  it.each(['-1', 'abc', '1x', '1kk', '.5m', '1.', '1.5.5m', '1e3', ' 1k', '1k ', '', '99999999999999999999g'])(
    'refuses %j with podman’s message',
    (text) => {
      expect(() => parseLogSize(text)).toThrow(`invalid size: '${text}'`);
    },
  );
});

describe('formatLogSize', () => {
  it('shows sizes as podman’s inspect does (SI, three significant digits)', () => {
    expect(formatLogSize(0)).toBe('0B');
    expect(formatLogSize(10)).toBe('10B');
    expect(formatLogSize(2000)).toBe('2kB');
    expect(formatLogSize(100_000)).toBe('100kB');
    expect(formatLogSize(1_000_000)).toBe('1MB');
    expect(formatLogSize(1_500_000)).toBe('1.5MB');
    expect(formatLogSize(1_234_567)).toBe('1.23MB');
    expect(formatLogSize(999_999)).toBe('1e+03kB'); // Go's %.3g
    expect(formatLogSize(1e12)).toBe('1TB');
    expect(formatLogSize(1e15)).toBe('1PB');
  });
});

describe('parseLogConfig', () => {
  const parse = (opts: string[], driver?: string) => parseLogConfig({ driver, opts }, '/work');

  it('defaults to an unbounded k8s-file log (hutch has no containers.conf log_size_max)', () => {
    expect(parse([])).toEqual({ driver: 'k8s-file', maxSize: 0 });
    expect(parse([], '')).toEqual({ driver: 'k8s-file', maxSize: 0 });
  });

  it('takes max-size, max-file and path (keys in any case, the last one winning, paths made absolute)', () => {
    expect(parse(['max-size=1k', 'MAX-SIZE=10m', 'max-file=3', 'path=logs/c.log'])).toEqual({
      driver: 'k8s-file',
      maxSize: 10_000_000,
      maxFile: 3,
      path: '/work/logs/c.log',
    });
    expect(parse(['path=/abs.log'], 'json-file')).toEqual({ driver: 'json-file', maxSize: 0, path: '/abs.log' });
    expect(parse(['max-size=1k'], 'none')).toEqual({ driver: 'none', maxSize: 1000 });
    expect(parse([], 'passthrough')).toEqual({ driver: 'passthrough', maxSize: 0 });
    // tag is kept for inspect, as podman keeps it (compose files set it for journald).
    expect(parse(['tag={{.Name}}'])).toEqual({ driver: 'k8s-file', maxSize: 0, tag: '{{.Name}}' });
    expect(inspectLogConfig(parse(['tag=web']), '/c').Tag).toBe('web');
  });

  it('refuses what would leave the log other than asked, each with its one line', () => {
    expect(() => parse([], 'journald')).toThrow(
      '--log-driver journald: hutch has no journald support (it writes no systemd journal); use k8s-file, none or passthrough',
    );
    expect(() => parse([], 'K8S-FILE')).toThrow('invalid log driver "K8S-FILE"');
    expect(() => parse(['max-size'])).toThrow('invalid log option "max-size"');
    expect(() => parse(['max-size=1x'])).toThrow("invalid size: '1x'");
    expect(() => parse(['max_size=1m'])).toThrow('unsupported log option "max_size=1m"');
    expect(() => parse(['mode=non-blocking'])).toThrow('unsupported log option "mode=non-blocking"');
    expect(() => parse(['max-file=3'])).toThrow('invalid log option max-file=3: it needs max-size');
    for (const bad of ['0', '1001', 'x', '-1', '2.5']) {
      expect(() => parse(['max-size=1m', `max-file=${bad}`])).toThrow(`invalid log option max-file=${bad}`);
    }
    expect(() => parse(['path='])).toThrow('invalid log option path=: the path is empty');
    const error = (() => {
      try {
        parse([], 'journald');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(HutchError);
    expect((error as HutchError).exitCode).toBe(125);
  });

  it('refuses passthrough when a standard stream is a terminal, as podman does', () => {
    expect(() => refuseTerminalPassthrough((fd) => fd === 2)).toThrow(
      "the '--log-driver passthrough' option cannot be used on a TTY",
    );
    expect(() => refuseTerminalPassthrough(() => false)).not.toThrow();
  });
});

describe('the log config where it is used', () => {
  it('gives the monitor its log and limits: max-size alone keeps one file (podman’s conmon)', () => {
    expect(monitorLogOptions(undefined, '/c')).toEqual({ log: '/c/ctr.log', passthrough: false });
    expect(monitorLogOptions({ driver: 'k8s-file', maxSize: 1000 }, '/c')).toEqual({
      log: '/c/ctr.log',
      logRotation: { maxSize: 1000, maxFiles: 1 },
      passthrough: false,
    });
    expect(monitorLogOptions({ driver: 'json-file', maxSize: 5, maxFile: 3, path: '/l' }, '/c')).toEqual({
      log: '/l',
      logRotation: { maxSize: 5, maxFiles: 3 },
      passthrough: false,
    });
    expect(monitorLogOptions({ driver: 'none', maxSize: 1000 }, '/c')).toEqual({ log: undefined, passthrough: false });
    expect(monitorLogOptions({ driver: 'passthrough', maxSize: 0 }, '/c')).toEqual({
      log: undefined,
      passthrough: true,
    });
  });

  it('shows HostConfig.LogConfig as podman’s inspect does', () => {
    expect(inspectLogConfig(undefined, '/c')).toEqual({
      Type: 'k8s-file',
      Config: null,
      Path: '/c/ctr.log',
      Tag: '',
      Size: '0B',
    });
    expect(inspectLogConfig({ driver: 'k8s-file', maxSize: 1_000_000, maxFile: 3 }, '/c')).toEqual({
      Type: 'k8s-file',
      Config: { 'max-file': '3' },
      Path: '/c/ctr.log',
      Tag: '',
      Size: '1MB',
    });
    expect(inspectLogConfig({ driver: 'none', maxSize: 1000, path: '/x.log' }, '/c')).toMatchObject({
      Type: 'none',
      Path: '/x.log',
      Size: '1kB',
    });
    expect(inspectLogConfig({ driver: 'passthrough', maxSize: 0 }, '/c')).toMatchObject({ Path: '' });
  });

  it('says podman’s words when a container has no log to read', () => {
    expect(noLogsError(undefined)).toBeUndefined();
    expect(noLogsError({ driver: 'none', maxSize: 0 })?.message).toBe(
      "this container is using the 'none' log driver, cannot read logs: this container is not logging output",
    );
    expect(noLogsError({ driver: 'passthrough', maxSize: 0 })?.message).toBe(
      "this container is using the 'passthrough' log driver, cannot read logs: this container is not logging output",
    );
  });
});

describe('monitorArgs: the log flags', () => {
  const base: MonitorOptions = {
    id: 'c',
    dir: '/run/c',
    log: '/c/ctr.log',
    plan: new Plan(),
    cloneFlags: 0,
    terminal: false,
    stdin: false,
    detach: false,
  };

  it('passes the log, its limits and passthrough as hutch-monitor options', () => {
    expect(monitorArgs(base)).toEqual([
      '--id',
      'c',
      '--dir',
      '/run/c',
      '--log',
      '/c/ctr.log',
      '--plan-fd',
      '3',
      '--sync-fd',
      '4',
    ]);
    expect(monitorArgs({ ...base, logRotation: { maxSize: 1_000_000, maxFiles: 3 } })).toEqual([
      '--id',
      'c',
      '--dir',
      '/run/c',
      '--log',
      '/c/ctr.log',
      '--log-size-max',
      '1000000',
      '--log-max-files',
      '3',
      '--plan-fd',
      '3',
      '--sync-fd',
      '4',
    ]);
    expect(monitorArgs({ ...base, log: undefined })).toEqual([
      '--id',
      'c',
      '--dir',
      '/run/c',
      '--plan-fd',
      '3',
      '--sync-fd',
      '4',
    ]);
    expect(monitorArgs({ ...base, log: undefined, passthrough: true })).toEqual([
      '--id',
      'c',
      '--dir',
      '/run/c',
      '--plan-fd',
      '3',
      '--sync-fd',
      '4',
      '--stdio-fd',
      '6',
    ]);
  });

  it('refuses limits the monitor would refuse', () => {
    expect(() => monitorArgs({ ...base, log: undefined, logRotation: { maxSize: 1, maxFiles: 1 } })).toThrow(TypeError);
    expect(() => monitorArgs({ ...base, logRotation: { maxSize: 0, maxFiles: 1 } })).toThrow(TypeError);
    expect(() => monitorArgs({ ...base, logRotation: { maxSize: 1, maxFiles: 1001 } })).toThrow(TypeError);
    expect(() => monitorArgs({ ...base, passthrough: true, terminal: true })).toThrow(TypeError);
    expect(() => monitorArgs({ ...base, passthrough: true, stdin: true })).toThrow(TypeError);
  });
});

describe('LogReader', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** The monitor's rotation (native/monitor_io.cc LogWriter::Rotate), step by step. */
  function rotate(path: string, maxFiles: number): void {
    writeFileSync(`${path}.tmp`, '');
    for (let k = maxFiles - 2; k >= 1; k--) {
      try {
        renameSync(`${path}.${k}`, `${path}.${k + 1}`);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    if (maxFiles >= 2) renameSync(path, `${path}.1`);
    renameSync(`${path}.tmp`, path);
  }

  function readText(reader: LogReader): string {
    const chunks: Buffer[] = [];
    reader.read((chunk) => chunks.push(chunk));
    return Buffer.concat(chunks).toString();
  }

  it('lists the files oldest first and ignores others', () => {
    dir = mkdtempSync(join(tmpdir(), 'hutch-logs-'));
    const path = join(dir, 'ctr.log');
    for (const name of ['ctr.log', 'ctr.log.1', 'ctr.log.10', 'ctr.log.2', 'ctr.log.tmp', 'ctr.log.01', 'other']) {
      writeFileSync(join(dir, name), '');
    }
    mkdirSync(join(dir, 'sub'));
    expect(logFiles(path)).toEqual(['ctr.log.10', 'ctr.log.2', 'ctr.log.1', 'ctr.log'].map((n) => join(dir, n)));
    expect(logFiles(join(dir, 'missing', 'ctr.log'))).toEqual([]);
  });

  it('reads every byte once, in order, through rotations between reads, and mid-rotation', () => {
    dir = mkdtempSync(join(tmpdir(), 'hutch-logs-'));
    const path = join(dir, 'ctr.log');
    const reader = new LogReader(path);
    expect(readText(reader)).toBe('');
    appendFileSync(path, 'a1\n');
    expect(readText(reader)).toBe('a1\n');
    appendFileSync(path, 'a2\n');
    rotate(path, 3);
    appendFileSync(path, 'b1\n');
    rotate(path, 3);
    appendFileSync(path, 'c1\n');
    expect(readText(reader)).toBe('a2\nb1\nc1\n');
    // Caught between the renames: ctr.log is missing for a moment.
    appendFileSync(path, 'c2\n');
    renameSync(path, `${path}.1`);
    expect(readText(reader)).toBe('c2\n');
    writeFileSync(path, 'd1\n');
    expect(readText(reader)).toBe('d1\n');
    reader.close();
  });

  it('finishes a file rotated away through its fd, then goes on with the oldest left', () => {
    dir = mkdtempSync(join(tmpdir(), 'hutch-logs-'));
    const path = join(dir, 'ctr.log');
    const reader = new LogReader(path);
    writeFileSync(path, 'a1\n');
    expect(readText(reader)).toBe('a1\n');
    appendFileSync(path, 'a2\n');
    for (const next of ['b', 'c', 'd']) {
      rotate(path, 2); // a dropped once c comes
      appendFileSync(path, `${next}\n`);
    }
    // a is read to its end through the open fd; b was dropped unread (a flood outran the reader).
    expect(readText(reader)).toBe('a2\nc\nd\n');

    // max-file 1: the full file is replaced by an empty one, as podman's conmon does.
    const single = join(dir, 'single.log');
    const one = new LogReader(single);
    writeFileSync(single, 'x1\n');
    expect(readText(one)).toBe('x1\n');
    appendFileSync(single, 'x2\n');
    rotate(single, 1);
    appendFileSync(single, 'y1\n');
    expect(readText(one)).toBe('x2\ny1\n');
    one.close();
    reader.close();
  });

  it('stops at the end of a given file: logs without -f does not chase a flood', () => {
    dir = mkdtempSync(join(tmpdir(), 'hutch-logs-'));
    const path = join(dir, 'ctr.log');
    writeFileSync(path, 'old\n');
    rotate(path, 3);
    writeFileSync(path, 'now\n');
    const reader = new LogReader(path);
    const until = fileId(path);
    const chunks: Buffer[] = [];
    reader.read((chunk) => {
      // The log rotates under the reader while it reads the first file.
      if (chunks.length === 0) {
        rotate(path, 3);
        appendFileSync(path, 'later\n');
      }
      chunks.push(chunk);
    }, until);
    expect(Buffer.concat(chunks).toString()).toBe('old\nnow\n');
    expect(readText(reader)).toBe('later\n');
    reader.close();
  });
});
