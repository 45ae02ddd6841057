/**
 * The pure parts of bench/lib/harness.mjs: statistics, ratios, the round
 * order, flags and rendering. Nothing here times anything.
 */
import { describe, expect, it } from 'vitest';

interface Stats {
  median: number;
  min: number;
  max: number;
  n: number;
}
interface DriverResult {
  name: string;
  command: string;
  note?: string;
  status: 'ok' | 'unavailable' | 'failed';
  reason?: string;
  samplesMs: number[];
  wallMs: Stats | null;
  peakRssKiB: Stats | null;
  ratios: Record<string, number | null>;
}
interface Machine {
  date: string;
  kernel: string;
  cpu: string;
  cores: number;
  memoryBytes: number;
  node: string;
  load1: number;
  caCertsUnset?: boolean;
}
interface Report {
  scenario: string;
  title?: string;
  machine: Machine;
  options: { runs: number; warmup: number; rssRuns: number; rssInTimed?: true };
  baselines: string[];
  subject?: string;
  drivers: DriverResult[];
  notes: string[];
}

/** What this test uses of the harness (plain JavaScript without declarations: bench/ has no build step). */
interface Harness {
  median(values: number[]): number;
  summarize(values: number[]): Stats | null;
  ratio(a: number | null | undefined, b: number | null | undefined): number | null;
  computeRatios(
    results: Pick<DriverResult, 'name' | 'wallMs'>[],
    baselines: string[],
  ): Record<string, Record<string, number | null>>;
  roundOrder<T>(items: readonly T[], round: number): T[];
  parseBenchArgs(argv: string[]): { runs: number; warmup: number; rssRuns: number; jsonOnly: boolean; out: string };
  machineLine(machine: Machine): string;
  renderMarkdown(report: Report): string;
  renderSummary(report: Report): string;
  subjectLine(report: Report): string | null;
  resultStem(scenario: string, date: string): string;
  DEFAULTS: { runs: number; warmup: number; rssRuns: number };
}

const harnessUrl = new URL('../../bench/lib/harness.mjs', import.meta.url).href;
const h = (await import(harnessUrl)) as Harness;

const stats = (median: number, min: number, max: number, n = 5): Stats => ({ median, min, max, n });

function driver(name: string, wall: Stats | null, extra: Partial<DriverResult> = {}): DriverResult {
  return {
    name,
    command: name,
    status: 'ok',
    samplesMs: [],
    wallMs: wall,
    peakRssKiB: null,
    ratios: {},
    ...extra,
  };
}

function report(drivers: DriverResult[], baselines: string[], subject?: string): Report {
  const ratios = h.computeRatios(drivers, baselines);
  return {
    scenario: 'startup',
    title: 'Start-up.',
    machine: {
      date: '2026-01-31T12:00:00.123Z',
      kernel: '6.18.0',
      cpu: 'Some CPU',
      cores: 2,
      memoryBytes: 24 * 2 ** 30,
      node: 'v20.20.2',
      load1: 0.5,
    },
    options: { runs: 15, warmup: 3, rssRuns: 3 },
    baselines,
    ...(subject ? { subject } : {}),
    drivers: drivers.map((d) => ({ ...d, ratios: ratios[d.name] ?? {} })),
    notes: ['a note'],
  };
}

describe('statistics', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(h.median([3, 1, 2])).toBe(2);
    expect(h.median([4, 1, 3, 2])).toBe(2.5);
    expect(h.median([7])).toBe(7);
  });

  it('leaves the samples in their run order', () => {
    const samples = [3, 1, 2];
    h.median(samples);
    expect(samples).toEqual([3, 1, 2]);
  });

  it('refuses the median of nothing, and summarizes nothing as null', () => {
    expect(() => h.median([])).toThrow(RangeError);
    expect(h.summarize([])).toBeNull();
  });

  it('summarizes median, min, max and count', () => {
    expect(h.summarize([5, 9, 1, 7])).toEqual({ median: 6, min: 1, max: 9, n: 4 });
  });
});

describe('ratios', () => {
  it('divides median by median, and has no ratio without a positive divisor', () => {
    expect(h.ratio(150, 100)).toBe(1.5);
    expect(h.ratio(150, 0)).toBeNull();
    expect(h.ratio(150, null)).toBeNull();
    expect(h.ratio(null, 100)).toBeNull();
  });

  it('gives every driver a ratio against each baseline that has a figure', () => {
    const results = [
      driver('hutch', stats(150, 140, 170)),
      driver('node', stats(100, 95, 110)),
      driver('unshare', stats(10, 9, 12)),
      driver('podman', null, { status: 'unavailable', reason: 'not installed' }),
    ];
    const ratios = h.computeRatios(results, ['node', 'unshare', 'podman', 'missing']);
    expect(ratios.hutch).toEqual({ node: 1.5, unshare: 15, podman: null, missing: null });
    expect(ratios.node?.node).toBe(1);
    expect(ratios.podman).toEqual({ node: null, unshare: null, podman: null, missing: null });
  });
});

describe('round order', () => {
  it('rotates left by one each round and wraps around', () => {
    const names = ['a', 'b', 'c'];
    expect(h.roundOrder(names, 0)).toEqual(['a', 'b', 'c']);
    expect(h.roundOrder(names, 1)).toEqual(['b', 'c', 'a']);
    expect(h.roundOrder(names, 2)).toEqual(['c', 'a', 'b']);
    expect(h.roundOrder(names, 3)).toEqual(['a', 'b', 'c']);
    expect(names).toEqual(['a', 'b', 'c']);
  });

  it('puts every driver in every position once over as many rounds as drivers', () => {
    const names = ['a', 'b', 'c', 'd', 'e'];
    const rounds = names.map((_, r) => h.roundOrder(names, r));
    for (const round of rounds) expect([...round].sort()).toEqual(names);
    for (let position = 0; position < names.length; position++) {
      expect(new Set(rounds.map((round) => round[position])).size).toBe(names.length);
    }
  });

  it('has nothing to order without drivers', () => {
    expect(h.roundOrder([], 4)).toEqual([]);
  });
});

describe('flags', () => {
  it('defaults to 20 timed and 3 warm-up rounds', () => {
    const options = h.parseBenchArgs([]);
    expect(options).toMatchObject({ runs: 20, warmup: 3, rssRuns: h.DEFAULTS.rssRuns, jsonOnly: false });
    expect(options.out.endsWith('/bench/results/')).toBe(true);
  });

  it('reads --runs, --warmup, --rss-runs, --json-only and --out', () => {
    expect(
      h.parseBenchArgs(['--runs', '15', '--warmup=0', '--rss-runs', '0', '--json-only', '--out', '/tmp/r']),
    ).toMatchObject({ runs: 15, warmup: 0, rssRuns: 0, jsonOnly: true, out: '/tmp/r' });
  });

  it('refuses counts that are not whole, or too small, and unknown flags', () => {
    expect(() => h.parseBenchArgs(['--runs', '0'])).toThrow(/--runs wants an integer >= 1, not '0'/);
    expect(() => h.parseBenchArgs(['--warmup', '2.5'])).toThrow(/--warmup/);
    expect(() => h.parseBenchArgs(['--runs', 'many'])).toThrow(/--runs/);
    expect(() => h.parseBenchArgs(['--fast'])).toThrow();
  });
});

describe('rendering', () => {
  const drivers = [
    driver('node -e 0', stats(100, 95, 110), { peakRssKiB: stats(40 * 1024, 40 * 1024, 41 * 1024, 3) }),
    driver('unshare --user true', stats(8, 7.5, 9.25)),
    driver('podman unshare true', null, { status: 'unavailable', reason: 'podman is not installed' }),
    driver('hutch | pipe', stats(150, 140, 170), { note: 'a driver with a pipe in its name' }),
    driver('hutch cold', null, { status: 'failed', reason: 'timed round 2: exit code 125' }),
  ];
  const r = report(drivers, ['node -e 0', 'unshare --user true', 'podman unshare true'], 'hutch | pipe');

  it('names the machine in one line', () => {
    expect(h.machineLine(r.machine)).toBe(
      '2026-01-31T12:00:00.123Z · Linux 6.18.0 · Some CPU · 2 cores · 24.0 GiB · node v20.20.2 · load 0.50',
    );
    expect(h.machineLine({ ...r.machine, caCertsUnset: true })).toMatch(
      / · load 0\.50 · NODE_EXTRA_CA_CERTS unset for every driver$/,
    );
  });

  it('renders a Markdown table with one ratio column per baseline', () => {
    const md = h.renderMarkdown(r);
    const lines = md.split('\n');
    expect(lines[0]).toBe('# startup');
    expect(md).toContain(h.machineLine(r.machine));
    expect(md).toContain('15 timed rounds after 3 warm-up rounds');
    expect(md).toContain('; peak RSS: median of 3 separate runs under /usr/bin/time.');
    expect(h.renderMarkdown({ ...r, options: { runs: 3, warmup: 0, rssRuns: 0, rssInTimed: true } })).toContain(
      '3 timed rounds after 0 warm-up rounds, drivers interleaved, order rotated each round; peak RSS: median of the timed runs, each under /usr/bin/time.',
    );
    expect(lines).toContain(
      '| driver | command | median ms | min–max ms | peak RSS | ÷ node -e 0 | ÷ unshare --user true | ÷ podman unshare true |',
    );
    expect(lines).toContain('|---|---|--:|--:|--:|--:|--:|--:|');
    expect(lines).toContain('| node -e 0 | `node -e 0` | 100.0 | 95.0–110.0 | 40.0 MiB | 1.00× | 12.50× | – |');
    expect(lines).toContain(
      '| unshare --user true | `unshare --user true` | 8.00 | 7.50–9.25 | – | 0.08× | 1.00× | – |',
    );
    expect(lines).toContain('| hutch \\| pipe | `hutch \\| pipe` | 150.0 | 140.0–170.0 | – | 1.50× | 18.75× | – |');
  });

  it('says what was not measured and why, instead of leaving it out', () => {
    const md = h.renderMarkdown(r);
    expect(md).toContain('| podman unshare true | `podman unshare true` | unavailable |');
    expect(md).toContain('- podman unshare true: unavailable: podman is not installed');
    expect(md).toContain('- hutch cold: failed: timed round 2: exit code 125');
    expect(h.renderSummary(r)).toContain('NOT MEASURED podman unshare true: unavailable: podman is not installed');
  });

  it('sums up the subject against each other baseline', () => {
    expect(h.subjectLine(r)).toBe(
      'hutch | pipe: median 150.0 ms, 1.50× node -e 0, 18.75× unshare --user true, podman unshare true not measured',
    );
    expect(h.renderMarkdown(r)).toContain('- hutch | pipe: a driver with a pipe in its name');
    expect(h.subjectLine({ ...r, subject: 'hutch cold' })).toBeNull();
  });

  it('aligns the stdout table and leaves failed drivers out of it', () => {
    const lines = h.renderSummary(r).split('\n');
    const header = lines.find((l) => l.startsWith('driver'));
    const row = lines.find((l) => l.startsWith('unshare --user true'));
    expect(header).toBeDefined();
    expect(row?.length).toBe(header?.length);
    expect(lines.some((l) => l.startsWith('hutch cold '))).toBe(false);
  });

  it('names result files after the scenario and the start time, without colons', () => {
    expect(h.resultStem('startup', '2026-01-31T12:00:00.123Z')).toBe('startup-2026-01-31T12-00-00Z');
  });
});
