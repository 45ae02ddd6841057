// --ulimit as podman and docker read it, and the setrlimit steps a container's plan gets from it.
import { describe, expect, it } from 'vitest';
import { HutchError } from '../../src/errors.js';
import {
  currentLimits,
  inspectUlimits,
  parseProcLimits,
  parseUlimit,
  parseUlimits,
  resolveUlimits,
  rlimitSpecs,
  RLIMIT_NUMBERS,
  UNLIMITED,
} from '../../src/run/rlimits.js';

// /proc/self/limits of a user whose hard limits are below unlimited for nofile and nproc.
const PROC_LIMITS = `Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max file size             unlimited            unlimited            bytes     
Max data size             unlimited            unlimited            bytes     
Max stack size            8388608              unlimited            bytes     
Max core file size        0                    unlimited            bytes     
Max resident set          unlimited            unlimited            bytes     
Max processes             96370                96370                processes 
Max open files            1024                 20000                files     
Max locked memory         8388608              8388608              bytes     
Max address space         unlimited            unlimited            bytes     
Max file locks            unlimited            unlimited            locks     
Max pending signals       96370                96370                signals   
Max msgqueue size         819200               819200               bytes     
Max nice priority         0                    0                    
Max realtime priority     0                    0                    
Max realtime timeout      unlimited            unlimited            us        
`;
const current = parseProcLimits(PROC_LIMITS);

function refusal(fn: () => unknown): HutchError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HutchError);
    return error as HutchError;
  }
  throw new Error('no error');
}

describe('--ulimit flags', () => {
  it('reads TYPE=SOFT[:HARD], the hard limit defaulting to the soft one, -1 meaning as much as you have', () => {
    expect(parseUlimit('nofile=1024:2048')).toEqual({ name: 'nofile', soft: 1024, hard: 2048 });
    expect(parseUlimit('nproc=20')).toEqual({ name: 'nproc', soft: 20, hard: 20 });
    expect(parseUlimit('core=0')).toEqual({ name: 'core', soft: 0, hard: 0 });
    expect(parseUlimit('nofile=-1')).toEqual({ name: 'nofile', soft: 'max', hard: 'max' });
    expect(parseUlimit('nofile=100:-1')).toEqual({ name: 'nofile', soft: 100, hard: 'max' });
  });

  it('refuses what podman refuses, naming the flag', () => {
    expect(refusal(() => parseUlimit('nofile')).message).toBe('invalid --ulimit nofile: no TYPE=');
    expect(refusal(() => parseUlimit('files=10')).message).toBe('invalid --ulimit files=10: unknown limit "files"');
    expect(refusal(() => parseUlimit('files=10')).hint).toMatch(/^the limits are cpu, fsize, .*nproc, nofile/);
    // docker leaves `as` out; so does hutch.
    expect(refusal(() => parseUlimit('as=10')).message).toMatch(/unknown limit "as"/);
    expect(refusal(() => parseUlimit('nofile=ten')).message).toBe('invalid --ulimit nofile=ten: "ten" is not a number');
    expect(refusal(() => parseUlimit('nofile=1:2:3')).message).toBe(
      'invalid --ulimit nofile=1:2:3: give at most SOFT:HARD',
    );
    expect(refusal(() => parseUlimit('nofile=')).message).toMatch(/"" is not a number/);
    expect(refusal(() => parseUlimit('nofile=-2')).message).toBe('invalid --ulimit nofile=-2: -2 is out of range');
    expect(refusal(() => parseUlimit('nproc=20:10')).message).toBe(
      'invalid --ulimit nproc=20:10: the soft limit 20 is above the hard limit 10',
    );
    expect(refusal(() => parseUlimit('nofile=99999999999999999999')).message).toMatch(/out of range/);
  });

  it('takes the flag repeatedly, a later one for the same type winning, and host', () => {
    expect(parseUlimits([])).toEqual({ host: false, limits: [] });
    expect(parseUlimits(['nofile=10', 'nproc=5', 'nofile=20:30'])).toEqual({
      host: false,
      limits: [
        { name: 'nproc', soft: 5, hard: 5 },
        { name: 'nofile', soft: 20, hard: 30 },
      ],
    });
    expect(parseUlimits(['host', 'nproc=5']).host).toBe(true);
  });
});

describe('the limits a container gets', () => {
  it('reads /proc/self/limits by resource number, unlimited as -1', () => {
    expect(current.get('nofile')).toEqual({ soft: 1024, hard: 20000 });
    expect(current.get('nproc')).toEqual({ soft: 96370, hard: 96370 });
    expect(current.get('core')).toEqual({ soft: 0, hard: UNLIMITED });
    expect(current.get('rttime')).toEqual({ soft: UNLIMITED, hard: UNLIMITED });
    expect([...current.keys()]).toHaveLength(Object.keys(RLIMIT_NUMBERS).length);
    // This process's own, as the kernel writes them.
    const own = currentLimits();
    expect(own.get('nofile')?.hard).toBeGreaterThan(0);
    expect(own.size).toBe(Object.keys(RLIMIT_NUMBERS).length);
  });

  it('resolves -1 to your hard limit, and host to every limit you have', () => {
    expect(resolveUlimits(parseUlimits(['nofile=-1', 'nproc=64']), current, false)).toEqual([
      { name: 'nofile', soft: 20000, hard: 20000 },
      { name: 'nproc', soft: 64, hard: 64 },
    ]);
    expect(resolveUlimits(parseUlimits(['core=-1']), current, false)).toEqual([
      { name: 'core', soft: UNLIMITED, hard: UNLIMITED },
    ]);
    const host = resolveUlimits(parseUlimits(['host', 'nproc=10']), current, false);
    expect(host).toHaveLength(Object.keys(RLIMIT_NUMBERS).length);
    expect(host.find((u) => u.name === 'nofile')).toEqual({ name: 'nofile', soft: 1024, hard: 20000 });
    expect(host.find((u) => u.name === 'nproc')).toEqual({ name: 'nproc', soft: 10, hard: 10 });
    expect(resolveUlimits(parseUlimits([]), current, false)).toEqual([]);
  });

  it('refuses a hard limit above yours without root (setrlimit would fail in the container), and allows it as root', () => {
    const error = refusal(() => resolveUlimits(parseUlimits(['nofile=1024:30000']), current, false));
    expect(error.message).toBe(
      '--ulimit nofile=1024:30000: the hard limit 30000 is above yours (20000), and only root may raise a hard limit',
    );
    expect(error.hint).toMatch(/^give at most 20000 \(or -1 for as much as you have\)/);
    expect(resolveUlimits(parseUlimits(['nofile=1024:30000']), current, true)).toEqual([
      { name: 'nofile', soft: 1024, hard: 30000 },
    ]);
    // -1 as the soft limit over an explicit lower hard one.
    expect(refusal(() => resolveUlimits(parseUlimits(['nofile=-1:100']), current, false)).message).toBe(
      'invalid --ulimit nofile=-1:100: the soft limit 20000 is above the hard limit 100',
    );
  });

  it("becomes the plan's setrlimit steps (RLIMIT_* numbers) and inspect's HostConfig.Ulimits", () => {
    const ulimits = resolveUlimits(parseUlimits(['nproc=64:128', 'nofile=512', 'core=-1']), current, false);
    expect(rlimitSpecs(ulimits)).toEqual([
      { resource: 6, soft: 64, hard: 128 },
      { resource: 7, soft: 512, hard: 512 },
      { resource: 4, soft: UNLIMITED, hard: UNLIMITED },
    ]);
    expect(rlimitSpecs(undefined)).toEqual([]);
    expect(inspectUlimits(ulimits)).toEqual([
      { Name: 'RLIMIT_NPROC', Soft: 64, Hard: 128 },
      { Name: 'RLIMIT_NOFILE', Soft: 512, Hard: 512 },
      { Name: 'RLIMIT_CORE', Soft: -1, Hard: -1 },
    ]);
  });
});
