/**
 * Progress of blob transfers: a live view on a terminal (one line per blob,
 * bytes and rate, redrawn ten times a second), plain lines otherwise
 * (`Copying blob sha256:… done`, podman's words), nothing with --quiet.
 */
import type { Writable } from 'node:stream';
import { shortId, type Digest } from './digest.js';

export type BlobOutcome = 'done' | 'exists' | 'mounted' | 'skipped' | 'failed';

export interface BlobProgress {
  advance(bytes: number): void;
  finish(outcome: BlobOutcome): void;
}

export interface Progress {
  blob(digest: Digest, total: number): BlobProgress;
  /** A line of its own (e.g. `Writing manifest to image destination`). */
  note(line: string): void;
  close(): void;
}

export type ProgressMode = 'tty' | 'plain' | 'quiet';

export function progressMode(
  stream: { isTTY?: boolean },
  quiet: boolean,
  env: NodeJS.ProcessEnv = process.env,
): ProgressMode {
  if (quiet) return 'quiet';
  return stream.isTTY === true && env.TERM !== 'dumb' && env.CI !== 'true' ? 'tty' : 'plain';
}

export function createProgress(mode: ProgressMode, out: Writable): Progress {
  if (mode === 'quiet') return { blob: () => ({ advance() {}, finish() {} }), note() {}, close() {} };
  if (mode === 'plain') return new PlainProgress(out);
  return new TerminalProgress(out);
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)}${UNITS[unit]}`;
}

const OUTCOME_WORDS: Record<BlobOutcome, string> = {
  done: 'done',
  exists: 'skipped: already exists',
  mounted: 'skipped: mounted from another repository',
  skipped: 'skipped: already in the store',
  failed: 'failed',
};

class PlainProgress implements Progress {
  constructor(private readonly out: Writable) {}

  blob(digest: Digest): BlobProgress {
    return {
      advance: () => {},
      finish: (outcome) => {
        this.out.write(`Copying blob ${digest} ${OUTCOME_WORDS[outcome]}\n`);
      },
    };
  }

  note(line: string): void {
    this.out.write(`${line}\n`);
  }

  close(): void {}
}

interface Row {
  digest: Digest;
  total: number;
  done: number;
  started: number;
  outcome: BlobOutcome | undefined;
}

class TerminalProgress implements Progress {
  private readonly rows: Row[] = [];
  private drawn = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly out: Writable) {
    this.timer = setInterval(() => this.draw(), 100);
    this.timer.unref();
  }

  blob(digest: Digest, total: number): BlobProgress {
    const row: Row = { digest, total, done: 0, started: Date.now(), outcome: undefined };
    this.rows.push(row);
    return {
      advance: (bytes) => {
        row.done += bytes;
      },
      finish: (outcome) => {
        row.outcome = outcome;
        this.draw();
      },
    };
  }

  note(line: string): void {
    this.draw();
    this.out.write(`${line}\n`);
    this.drawn = 0;
    // Rows above the note are final; redraw only the ones still moving.
    for (let i = this.rows.length - 1; i >= 0; i--) if (this.rows[i]?.outcome !== undefined) this.rows.splice(i, 1);
  }

  close(): void {
    clearInterval(this.timer);
    this.draw();
  }

  private line(row: Row): string {
    const id = shortId(row.digest);
    if (row.outcome !== undefined && row.outcome !== 'done') return `Copying blob ${id} ${OUTCOME_WORDS[row.outcome]}`;
    const seconds = Math.max((Date.now() - row.started) / 1000, 0.001);
    const rate = `${formatBytes(row.done / seconds)}/s`;
    const amount = `${formatBytes(row.done)} / ${formatBytes(row.total)}`;
    return `Copying blob ${id} ${row.outcome === 'done' ? 'done' : ''} ${amount} ${rate}`.replace(/\s+/g, ' ');
  }

  private draw(): void {
    let text = this.drawn > 0 ? `\x1b[${this.drawn}F` : '';
    for (const row of this.rows) text += `\x1b[2K${this.line(row)}\n`;
    this.out.write(text);
    this.drawn = this.rows.length;
  }
}
