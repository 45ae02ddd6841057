/**
 * The benchmark harness every bench/*.mjs script shares.
 *
 * A scenario is a list of drivers: hutch and its peers doing the same thing.
 * Each trial is a fresh process, timed from spawn to the exit the parent sees.
 * The drivers run in rounds, every driver once per round, and the order
 * rotates each round so that each driver takes each position equally often
 * (none always runs first, after the machine was idle). Interleaving spreads
 * slow phases of the machine over every driver. Ratios are only ever taken
 * between figures of the same run: figures from two runs on a shared machine
 * do not compare.
 *
 * Peak RSS is measured in a separate, shorter pass under GNU time
 * (`/usr/bin/time -f %M`): wrapping every timed trial in it would add one more
 * exec to each trial (several ms here, more than `unshare --user true` takes
 * in all) and squeeze every ratio towards 1. Node cannot give a child's own
 * rusage: getrusage(RUSAGE_CHILDREN) only keeps the largest child so far.
 */
/* global setTimeout, clearTimeout */
import { spawn } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import { delimiter, join } from 'node:path';
import { parseArgs } from 'node:util';

/**
 * @typedef {object} Driver
 * @property {string} name Unique in its scenario; baselines and ratios refer to it.
 * @property {string[] | (() => Promise<void>)} command An argv run as a fresh process per trial, or an
 *   in-process function (timed around its promise; no peak RSS then).
 * @property {Record<string, string | undefined>} [env] Merged over process.env; undefined removes a variable.
 * @property {string} [cwd]
 * @property {() => string | null} [available] null when the driver can run here, else the reason it cannot.
 * @property {() => void | Promise<void>} [setup] Once, before the warm-up, untimed. Throwing fails the driver.
 * @property {() => void | Promise<void>} [beforeTrial] Before every trial (warm-up and RSS pass too), untimed.
 * @property {string} [note] One line for the reader: what this figure shows.
 */

/**
 * @typedef {object} Scenario
 * @property {string} name Also the file name of its results.
 * @property {string} [title] One sentence: what is measured.
 * @property {Driver[]} drivers
 * @property {string[]} [baselines] Names of the peers every driver is divided by (median ÷ median).
 * @property {string} [subject] The driver the closing sentence is about (hutch's figure).
 * @property {string[]} [notes] Lines added to the report.
 * @property {() => void | Promise<void>} [setup] Before anything else.
 * @property {() => void | Promise<void>} [teardown] Always runs, last.
 * @property {number} [timeoutMs] Per trial; a trial that takes longer fails its driver. Default 120 s.
 * @property {{ runs?: number, warmup?: number, rssRuns?: number, rssInTimed?: boolean }} [defaults] Rounds for
 *   this scenario when the command line does not say (slow trials want fewer).
 */

/**
 * @typedef {object} Options
 * @property {number} runs Timed rounds.
 * @property {number} warmup Untimed rounds first.
 * @property {number} rssRuns Rounds of the peak-RSS pass (0: none).
 * @property {boolean} [rssInTimed] Peak RSS from the timed trials themselves, each under GNU time, and no
 *   separate pass: for trials of seconds, where the exec GNU time adds is noise, a round saved.
 * @property {boolean} jsonOnly stdout carries the JSON report (one line) and nothing else.
 * @property {string} out Directory of the JSON and Markdown files.
 */

/** @typedef {{ median: number, min: number, max: number, n: number }} Stats */

/**
 * @typedef {object} DriverResult
 * @property {string} name
 * @property {string} command How the driver runs, for the reader.
 * @property {string} [note]
 * @property {'ok' | 'unavailable' | 'failed'} status
 * @property {string} [reason] Why it is unavailable or failed (a failure includes the trial's stderr).
 * @property {number[]} samplesMs Timed trials in run order.
 * @property {Stats | null} wallMs
 * @property {Stats | null} peakRssKiB
 * @property {Record<string, number | null>} ratios median(this) ÷ median(baseline), per baseline.
 */

/**
 * @typedef {object} Machine
 * @property {string} date
 * @property {string} kernel
 * @property {string} cpu
 * @property {number} cores
 * @property {number} memoryBytes
 * @property {string} node
 * @property {number} load1 The one-minute load average when the run started (other work on the machine).
 * @property {boolean} [caCertsUnset] NODE_EXTRA_CA_CERTS was set here and removed for every driver.
 */

/**
 * @typedef {object} Report
 * @property {string} scenario
 * @property {string} [title]
 * @property {Machine} machine
 * @property {{ runs: number, warmup: number, rssRuns: number, rssInTimed?: true }} options
 * @property {string[]} baselines
 * @property {string} [subject]
 * @property {DriverResult[]} drivers
 * @property {string[]} notes
 */

export const DEFAULTS = Object.freeze({ runs: 20, warmup: 3, rssRuns: 3 });
export const GNU_TIME = '/usr/bin/time';
const RESULTS_DIR = new URL('../results/', import.meta.url).pathname;
const STDERR_TAIL = 2000;

// ---------------------------------------------------------------- pure parts

/** The median of values (the mean of the two middle ones for an even count). Throws on none. */
export function median(values) {
  if (values.length === 0) throw new RangeError('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** @returns {Stats | null} null when there are no values. */
export function summarize(values) {
  if (values.length === 0) return null;
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), n: values.length };
}

/** a ÷ b, or null when either is missing or b is not positive. */
export function ratio(a, b) {
  if (a == null || b == null || !(b > 0)) return null;
  return a / b;
}

/**
 * For each driver, median ÷ median of each baseline that has a figure; null
 * for a baseline that is unavailable, failed, or not in the scenario.
 * @param {Pick<DriverResult, 'name' | 'wallMs'>[]} results
 * @param {string[]} baselines
 * @returns {Record<string, Record<string, number | null>>} by driver name, then baseline name
 */
export function computeRatios(results, baselines) {
  const medians = new Map(results.map((r) => [r.name, r.wallMs?.median ?? null]));
  return Object.fromEntries(
    results.map((r) => [
      r.name,
      Object.fromEntries(baselines.map((b) => [b, ratio(medians.get(r.name), medians.get(b) ?? null)])),
    ]),
  );
}

/**
 * The order of round `round`: items rotated left by round (mod length), so
 * over length rounds each item runs once in each position.
 * @template T
 * @param {readonly T[]} items
 * @param {number} round
 * @returns {T[]}
 */
export function roundOrder(items, round) {
  if (items.length === 0) return [];
  const shift = ((round % items.length) + items.length) % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/**
 * Parses the flags every bench script takes.
 * @param {string[]} argv without node and the script
 * @returns {Options & { help: boolean }}
 */
export function parseBenchArgs(argv) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      runs: { type: 'string' },
      warmup: { type: 'string' },
      'rss-runs': { type: 'string' },
      'json-only': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  return {
    runs: count('--runs', values.runs, DEFAULTS.runs, 1),
    warmup: count('--warmup', values.warmup, DEFAULTS.warmup, 0),
    rssRuns: count('--rss-runs', values['rss-runs'], DEFAULTS.rssRuns, 0),
    jsonOnly: values['json-only'] ?? false,
    out: values.out ?? RESULTS_DIR,
    help: values.help ?? false,
  };
}

export const USAGE = `options:
  --runs N       timed rounds, every driver once per round (default ${DEFAULTS.runs})
  --warmup N     untimed rounds first (default ${DEFAULTS.warmup})
  --rss-runs N   rounds under ${GNU_TIME} for peak RSS, apart from the timed ones (default ${DEFAULTS.rssRuns}, 0: skip)
  --json-only    print only the JSON report (one line) on stdout; progress stays on stderr
  --out DIR      where the .json and .md files go (default bench/results)`;

function count(flag, text, fallback, min) {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new RangeError(`${flag} wants an integer >= ${min}, not '${text}'`);
  return n;
}

/** @param {Machine} m */
export function machineLine(m) {
  const gib = (m.memoryBytes / 2 ** 30).toFixed(1);
  const ca = m.caCertsUnset === true ? ' · NODE_EXTRA_CA_CERTS unset for every driver' : '';
  return `${m.date} · Linux ${m.kernel} · ${m.cpu} · ${m.cores} cores · ${gib} GiB · node ${m.node} · load ${m.load1.toFixed(2)}${ca}`;
}

/** Milliseconds for people: two decimals below 10 ms, one above. */
export function formatMs(ms) {
  return ms < 10 ? ms.toFixed(2) : ms.toFixed(1);
}

function formatRange(stats) {
  return stats ? `${formatMs(stats.min)}–${formatMs(stats.max)}` : '';
}

function formatRss(stats) {
  return stats ? `${(stats.median / 1024).toFixed(1)} MiB` : '–';
}

function formatRatio(value) {
  return value == null ? '–' : `${value.toFixed(2)}×`;
}

const plural = (n, noun) => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** How a report's options read in prose. */
function methodLine(report) {
  const { runs, warmup, rssRuns, rssInTimed } = report.options;
  const rss = rssInTimed
    ? `; peak RSS: median of the timed runs, each under ${GNU_TIME}`
    : rssRuns > 0
      ? `; peak RSS: median of ${plural(rssRuns, 'separate run')} under ${GNU_TIME}`
      : '';
  return `${plural(runs, 'timed round')} after ${plural(warmup, 'warm-up round')}, drivers interleaved, order rotated each round${rss}.`;
}

/** "hutch …: 1.40× node -e 0, 7.10× unshare --user true" — or null without a subject figure. */
export function subjectLine(report) {
  const subject = report.drivers.find((d) => d.name === report.subject);
  if (!subject || subject.status !== 'ok') return null;
  const parts = report.baselines
    .filter((b) => b !== subject.name)
    .map((b) => (subject.ratios[b] == null ? `${b} not measured` : `${formatRatio(subject.ratios[b])} ${b}`));
  return `${subject.name}: median ${formatMs(subject.wallMs?.median ?? 0)} ms, ${parts.join(', ')}`;
}

function notMeasured(report) {
  return report.drivers.filter((d) => d.status !== 'ok').map((d) => `${d.name}: ${d.status}: ${d.reason ?? ''}`);
}

const escapeCell = (text) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

/**
 * The report as Markdown: a machine line, the method, one table row per
 * driver (ratios as columns, one per baseline), then what could not be measured.
 * @param {Report} report
 */
export function renderMarkdown(report) {
  const lines = [`# ${report.scenario}`, ''];
  if (report.title) lines.push(report.title, '');
  lines.push(machineLine(report.machine), '', methodLine(report), 'Ratios are median ÷ median within this run.', '');
  const head = ['driver', 'command', 'median ms', 'min–max ms', 'peak RSS', ...report.baselines.map((b) => `÷ ${b}`)];
  lines.push(`| ${head.map(escapeCell).join(' | ')} |`);
  lines.push(`|${['---', '---', '--:', '--:', '--:', ...report.baselines.map(() => '--:')].join('|')}|`);
  for (const d of report.drivers) {
    const cells =
      d.status === 'ok'
        ? [
            d.name,
            `\`${d.command}\``,
            formatMs(d.wallMs?.median ?? 0),
            formatRange(d.wallMs),
            formatRss(d.peakRssKiB),
            ...report.baselines.map((b) => formatRatio(d.ratios[b] ?? null)),
          ]
        : [d.name, `\`${d.command}\``, d.status, '', '', ...report.baselines.map(() => '')];
    lines.push(`| ${cells.map(escapeCell).join(' | ')} |`);
  }
  const subject = subjectLine(report);
  if (subject) lines.push('', `**${subject}**`);
  const missing = notMeasured(report);
  if (missing.length > 0) lines.push('', 'Not measured:', ...missing.map((m) => `- ${escapeCell(m)}`));
  const notes = [...report.drivers.filter((d) => d.note).map((d) => `${d.name}: ${d.note}`), ...report.notes];
  if (notes.length > 0) lines.push('', 'Notes:', ...notes.map((n) => `- ${n}`));
  return `${lines.join('\n')}\n`;
}

/**
 * The short summary for stdout: an aligned table and the subject's ratios.
 * @param {Report} report
 */
export function renderSummary(report) {
  const head = ['driver', 'median ms', 'min–max ms', 'peak RSS', ...report.baselines.map((b) => `÷ ${b}`)];
  const rows = report.drivers
    .filter((d) => d.status === 'ok')
    .map((d) => [
      d.name,
      formatMs(d.wallMs?.median ?? 0),
      formatRange(d.wallMs),
      formatRss(d.peakRssKiB),
      ...report.baselines.map((b) => formatRatio(d.ratios[b] ?? null)),
    ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const out = [`${report.scenario}: ${machineLine(report.machine)}`, methodLine(report), line(head)];
  out.push(...rows.map(line));
  const subject = subjectLine(report);
  if (subject) out.push('', subject);
  for (const m of notMeasured(report)) out.push(`NOT MEASURED ${m}`);
  return `${out.join('\n')}\n`;
}

/** The file name stem of a run: scenario-2026-01-31T12-00-00Z. */
export function resultStem(scenario, date) {
  return `${scenario}-${date.replace(/\.\d+Z$/, 'Z').replaceAll(':', '-')}`;
}

// ------------------------------------------------------------- host and runs

/** @returns {Machine} */
export function machineInfo(now = new Date()) {
  const cpus = os.cpus();
  return {
    date: now.toISOString(),
    kernel: os.release(),
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism?.() ?? cpus.length,
    memoryBytes: os.totalmem(),
    node: process.version,
    load1: os.loadavg()[0] ?? 0,
    ...(dropsCaCerts() ? { caCertsUnset: true } : {}),
  };
}

/** The path of an executable found on PATH (like execvp would), or null. */
export function which(name, path = process.env.PATH ?? '') {
  if (name.includes('/')) return isExecutable(name) ? name : null;
  for (const dir of path.split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return null;
}

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The last bytes of a failing command's stderr, for error messages. */
export function tail(text, limit = STDERR_TAIL) {
  const trimmed = text.trim();
  return trimmed.length > limit ? `…${trimmed.slice(-limit)}` : trimmed;
}

/** Sleeps without returning to the event loop (for untimed polling in hooks). */
export function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Prints the usage and exits 2 when run as root: rootless figures need an ordinary user. */
export function requireUnprivileged(script) {
  if (process.getuid?.() !== 0) return;
  process.stderr.write(
    `${script}: refusing to run as root: hutch is rootless, and as root it skips the user namespace.\n` +
      `hint: run it as an unprivileged user with subordinate ids, e.g.\n` +
      `  cd /tmp && runuser -u hutch-ci -- node ${process.argv[1] ?? script}\n`,
  );
  process.exit(2);
}

function describeCommand(command) {
  return typeof command === 'function' ? `(in-process) ${command.name || 'function'}` : command.join(' ');
}

/**
 * NODE_EXTRA_CA_CERTS makes every node start parse a certificate file (40–50 ms
 * for the system bundle on the development host, where the workplace sets it
 * for its proxy); podman, buildah and skopeo never read it, and no scenario
 * uses TLS (the registry is plain HTTP on 127.0.0.1). So it is removed for every
 * driver, and the machine line says so; HUTCH_BENCH_KEEP_CA_CERTS=1 keeps it.
 */
function dropsCaCerts() {
  return process.env.NODE_EXTRA_CA_CERTS !== undefined && process.env.HUTCH_BENCH_KEEP_CA_CERTS !== '1';
}

function childEnv(extra) {
  const env = { ...process.env };
  if (dropsCaCerts()) delete env.NODE_EXTRA_CA_CERTS;
  for (const [key, value] of Object.entries(extra ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

const elapsedMs = (start) => Number(process.hrtime.bigint() - start) / 1e6;
const roundTo = (value, digits) => Math.round(value * 10 ** digits) / 10 ** digits;
/** Wall-time stats to the microsecond: finer digits are noise. */
const roundStats = (stats) =>
  stats && { median: roundTo(stats.median, 3), min: roundTo(stats.min, 3), max: roundTo(stats.max, 3), n: stats.n };

/**
 * One trial: a fresh process (or one call of an in-process driver).
 * Throws with the exit status and stderr when it does not succeed.
 * @returns {Promise<{ ms: number, rssKiB: number | null }>}
 */
async function runTrial(driver, scratch, timeoutMs, measureRss) {
  await driver.beforeTrial?.();
  if (typeof driver.command === 'function') {
    const start = process.hrtime.bigint();
    await driver.command();
    return { ms: elapsedMs(start), rssKiB: null };
  }
  const rssFile = join(scratch, 'rss');
  const argv = measureRss ? [GNU_TIME, '-f', '%M', '-o', rssFile, ...driver.command] : driver.command;
  // stderr goes to a file, not a pipe: a daemon the command leaves behind
  // (podman's pause process) could hold a pipe open long after the exit.
  const stderrFile = join(scratch, 'stderr');
  const stderrFd = openSync(stderrFile, 'w', 0o600);
  let outcome;
  try {
    const start = process.hrtime.bigint();
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ['ignore', 'ignore', stderrFd],
      env: childEnv(driver.env),
      cwd: driver.cwd,
    });
    outcome = await new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('error', (error) => {
        clearTimeout(timer);
        resolve({ error });
      });
      child.once('exit', (code, signal) => {
        const ms = elapsedMs(start);
        clearTimeout(timer);
        resolve({ code, signal, ms, timedOut: signal === 'SIGKILL' && ms >= timeoutMs });
      });
    });
  } finally {
    closeSync(stderrFd);
  }
  if (outcome.error) throw new Error(`cannot start ${argv[0]}: ${outcome.error.message}`);
  if (outcome.code !== 0) {
    const how = outcome.timedOut
      ? `timed out after ${timeoutMs} ms`
      : outcome.signal
        ? `killed by ${outcome.signal}`
        : `exit code ${outcome.code}`;
    const stderr = tail(readFileSync(stderrFile, 'utf8'));
    throw new Error(`\`${argv.join(' ')}\` ${how}${stderr ? `; stderr:\n${stderr}` : ' (no stderr)'}`);
  }
  let rssKiB = null;
  if (measureRss) {
    rssKiB = Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1));
    if (!Number.isFinite(rssKiB)) throw new Error(`${GNU_TIME} wrote no peak RSS to ${rssFile}`);
  }
  return { ms: outcome.ms, rssKiB };
}

/**
 * Runs a scenario: availability and setup, warm-up rounds, timed rounds, the
 * peak-RSS pass, then teardown. A driver whose setup or any trial fails is
 * marked failed (with the trial's stderr), said at once on stderr, and left
 * out of the remaining rounds; the others go on.
 * @param {Scenario} scenario
 * @param {Pick<Options, 'runs' | 'warmup' | 'rssRuns' | 'rssInTimed'>} options
 * @param {(line: string) => void} [log] progress and failures
 * @returns {Promise<Report>}
 */
export async function runScenario(scenario, options, log = (line) => process.stderr.write(`${line}\n`)) {
  const names = scenario.drivers.map((d) => d.name);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) throw new Error(`${scenario.name}: two drivers named '${duplicate}'`);
  const baselines = scenario.baselines ?? [];
  for (const b of [...baselines, ...(scenario.subject ? [scenario.subject] : [])]) {
    if (!names.includes(b)) throw new Error(`${scenario.name}: '${b}' is not one of its drivers`);
  }

  const machine = machineInfo();
  const timeoutMs = scenario.timeoutMs ?? 120_000;
  const notes = [...(scenario.notes ?? [])];
  const scratch = mkdtempSync(join(os.tmpdir(), `hutch-bench-${scenario.name}-`));
  /** @type {Map<string, { status: DriverResult['status'] | 'running', reason?: string, samples: number[], rss: number[] }>} */
  const state = new Map(scenario.drivers.map((d) => [d.name, { status: 'running', samples: [], rss: [] }]));
  const fail = (driver, what, error) => {
    const s = state.get(driver.name);
    s.status = 'failed';
    s.reason = `${what}: ${error instanceof Error ? error.message : String(error)}`;
    log(`${scenario.name}: FAILED ${driver.name}: ${s.reason}`);
  };

  try {
    await scenario.setup?.();
    for (const driver of scenario.drivers) {
      const reason = driver.available?.() ?? null;
      if (reason !== null) {
        Object.assign(state.get(driver.name), { status: 'unavailable', reason });
        log(`${scenario.name}: ${driver.name}: unavailable: ${reason}`);
        continue;
      }
      try {
        await driver.setup?.();
      } catch (error) {
        fail(driver, 'setup', error);
      }
    }
    const runnable = scenario.drivers.filter((d) => state.get(d.name).status === 'running');

    const rounds = async (label, count, measureRss, record) => {
      if (count === 0) return;
      log(`${scenario.name}: ${label}: ${plural(count, 'round')}`);
      for (let round = 0; round < count; round++) {
        for (const driver of roundOrder(runnable, round)) {
          if (state.get(driver.name).status !== 'running') continue;
          const inProcess = typeof driver.command === 'function';
          if (label === 'peak RSS' && inProcess) continue;
          try {
            record(driver, await runTrial(driver, scratch, timeoutMs, measureRss && !inProcess));
          } catch (error) {
            fail(driver, `${label} round ${round + 1}`, error);
          }
        }
      }
    };
    await rounds('warm-up', options.warmup, false, () => {});
    const rssInTimed = options.rssInTimed === true && isExecutable(GNU_TIME);
    await rounds('timed', options.runs, rssInTimed, (d, t) => {
      state.get(d.name).samples.push(t.ms);
      if (t.rssKiB !== null) state.get(d.name).rss.push(t.rssKiB);
    });
    if (options.rssInTimed === true) {
      if (!rssInTimed) {
        notes.push(`peak RSS not measured: ${GNU_TIME} is missing (Debian package \`time\`)`);
        log(`${scenario.name}: ${notes.at(-1)}`);
      }
    } else if (options.rssRuns > 0 && isExecutable(GNU_TIME)) {
      await rounds('peak RSS', options.rssRuns, true, (d, t) => state.get(d.name).rss.push(t.rssKiB));
    } else if (options.rssRuns > 0) {
      notes.push(`peak RSS not measured: ${GNU_TIME} is missing (Debian package \`time\`)`);
      log(`${scenario.name}: ${notes.at(-1)}`);
    }
  } finally {
    try {
      await scenario.teardown?.();
    } catch (error) {
      log(`${scenario.name}: teardown: ${error instanceof Error ? error.message : String(error)}`);
    }
    rmSync(scratch, { recursive: true, force: true });
  }

  /** @type {DriverResult[]} */
  const drivers = scenario.drivers.map((d) => {
    const s = state.get(d.name);
    const ok = s.status === 'running';
    return {
      name: d.name,
      command: describeCommand(d.command),
      ...(d.note ? { note: d.note } : {}),
      status: ok ? 'ok' : s.status,
      ...(s.reason ? { reason: s.reason } : {}),
      samplesMs: s.samples.map((ms) => roundTo(ms, 3)),
      wallMs: ok ? roundStats(summarize(s.samples)) : null,
      peakRssKiB: ok ? summarize(s.rss) : null,
      ratios: {},
    };
  });
  const ratios = computeRatios(drivers, baselines);
  for (const d of drivers) {
    d.ratios = Object.fromEntries(
      Object.entries(ratios[d.name]).map(([b, r]) => [b, r === null ? null : roundTo(r, 4)]),
    );
  }
  return {
    scenario: scenario.name,
    ...(scenario.title ? { title: scenario.title } : {}),
    machine,
    options: {
      runs: options.runs,
      warmup: options.warmup,
      rssRuns: options.rssInTimed === true ? 0 : options.rssRuns,
      ...(options.rssInTimed === true ? { rssInTimed: true } : {}),
    },
    baselines,
    ...(scenario.subject ? { subject: scenario.subject } : {}),
    drivers,
    notes,
  };
}

/**
 * Writes <out>/<scenario>-<timestamp>.json and .md.
 * @param {Report} report
 * @returns {{ json: string, md: string }}
 */
export function writeReport(report, out) {
  mkdirSync(out, { recursive: true });
  const stem = join(out, resultStem(report.scenario, report.machine.date));
  const files = { json: `${stem}.json`, md: `${stem}.md` };
  writeFileSync(files.json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(files.md, renderMarkdown(report));
  return files;
}

/**
 * The whole life of a bench script: flags, run, files, summary, exit code
 * (1 when a driver failed or the files could not be written; 2 on bad flags).
 * @param {Scenario | (() => Scenario | Promise<Scenario>)} scenarioOrFactory
 */
export async function main(scenarioOrFactory) {
  let options;
  try {
    options = parseBenchArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (options.help) {
    process.stdout.write(`usage: node ${process.argv[1] ?? 'bench/SCRIPT.mjs'} [options]\n${USAGE}\n`);
    return;
  }
  const scenario = typeof scenarioOrFactory === 'function' ? await scenarioOrFactory() : scenarioOrFactory;
  // A scenario whose trials take seconds asks for fewer rounds; a flag given on the command line wins.
  const given = (flag) => process.argv.slice(2).some((a) => a === flag || a.startsWith(`${flag}=`));
  if (scenario.defaults?.runs !== undefined && !given('--runs')) options.runs = scenario.defaults.runs;
  if (scenario.defaults?.warmup !== undefined && !given('--warmup')) options.warmup = scenario.defaults.warmup;
  if (scenario.defaults?.rssRuns !== undefined && !given('--rss-runs')) options.rssRuns = scenario.defaults.rssRuns;
  // --rss-runs on the command line asks for the separate pass.
  if (scenario.defaults?.rssInTimed === true && !given('--rss-runs')) options.rssInTimed = true;
  const report = await runScenario(scenario, options);
  let files = null;
  let writeError = null;
  try {
    files = writeReport(report, options.out);
  } catch (error) {
    writeError = error instanceof Error ? error.message : String(error);
  }
  if (options.jsonOnly) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    process.stdout.write(renderSummary(report));
    if (files) process.stdout.write(`results: ${files.json}\n         ${files.md}\n`);
  }
  if (writeError) {
    process.stderr.write(`${scenario.name}: cannot write the results: ${writeError}\n`);
    process.stderr.write(`hint: make ${options.out} writable by this user, or pass --out DIR\n`);
  }
  if (writeError || report.drivers.some((d) => d.status === 'failed')) process.exitCode = 1;
}
