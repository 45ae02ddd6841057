import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readBuildInputs, type InputOptions } from '../../src/build/inputs.js';

let dir: string;
let ctx: string;
let tmp: string;
let cwd: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hutch-inputs-'));
  ctx = join(dir, 'ctx');
  tmp = join(dir, 'tmp');
  mkdirSync(ctx);
  mkdirSync(tmp);
  cwd = process.cwd();
  process.chdir(dir);
});
afterEach(() => {
  process.chdir(cwd);
  rmSync(dir, { recursive: true, force: true });
});

const options = (over: Partial<InputOptions>): InputOptions => ({
  contextDir: ctx,
  files: [],
  stdin: Readable.from([]),
  tmpDir: tmp,
  userXattrs: true,
  storageDir: dir,
  ...over,
});

async function refusal(over: Partial<InputOptions>): Promise<string> {
  try {
    await readBuildInputs(options(over));
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('no error');
}

describe('the context and the Containerfiles of a build, as podman finds them', () => {
  it('CONTEXT/Containerfile, else CONTEXT/Dockerfile; podman words when neither is there', async () => {
    expect(await refusal({})).toBe(`stat ${ctx}/Dockerfile: no such file or directory`);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM d\n');
    expect((await readBuildInputs(options({}))).containerfiles.map((c) => c.text)).toEqual(['FROM d\n']);
    writeFileSync(join(ctx, 'Containerfile'), 'FROM c\n');
    const inputs = await readBuildInputs(options({}));
    expect(inputs.contextDir).toBe(ctx);
    expect(inputs.containerfiles).toEqual([
      { text: 'FROM c\n', name: join(ctx, 'Containerfile'), path: join(ctx, 'Containerfile') },
    ]);
  });

  it('-f: relative to the working directory, else to the context; several in order; not a directory', async () => {
    writeFileSync(join(dir, 'Here'), 'FROM here\n');
    writeFileSync(join(ctx, 'There'), 'FROM there\n');
    const inputs = await readBuildInputs(options({ files: ['Here', 'There'] }));
    expect(inputs.containerfiles.map((c) => [c.text, c.path])).toEqual([
      ['FROM here\n', join(dir, 'Here')],
      ['FROM there\n', join(ctx, 'There')],
    ]);
    expect(await refusal({ files: ['Nowhere'] })).toBe(`stat ${ctx}/Nowhere: no such file or directory`);
    expect(await refusal({ files: ['ctx'] })).toBe('containerfile: "ctx" cannot be path to a directory');
  });

  it("no context: the first Containerfile's directory; none at all, or not a directory: refused", async () => {
    writeFileSync(join(ctx, 'Containerfile'), 'FROM c\n');
    const inputs = await readBuildInputs(options({ contextDir: undefined, files: ['ctx/Containerfile'] }));
    expect(inputs.contextDir).toBe(ctx);
    expect(await refusal({ contextDir: undefined })).toBe('no context directory and no Containerfile specified');
    expect(await refusal({ contextDir: join(ctx, 'Containerfile') })).toBe(
      `context must be a directory: ${JSON.stringify(join(ctx, 'Containerfile'))}`,
    );
    expect(await refusal({ contextDir: 'missing' })).toBe(
      `context must be a directory: ${JSON.stringify(join(dir, 'missing'))}`,
    );
  });

  it('-f - reads standard input', async () => {
    const inputs = await readBuildInputs(
      options({ files: ['-'], stdin: Readable.from([Buffer.from('FROM piped\n')]) }),
    );
    expect(inputs.containerfiles).toEqual([{ text: 'FROM piped\n', name: 'Containerfile', path: undefined }]);
  });

  it('context -: a Containerfile alone in an empty context, removed on release', async () => {
    const inputs = await readBuildInputs(
      options({ contextDir: '-', stdin: Readable.from([Buffer.from('FROM alone\nRUN true\n')]) }),
    );
    expect(inputs.containerfiles.map((c) => c.text)).toEqual(['FROM alone\nRUN true\n']);
    expect(inputs.contextDir.startsWith(tmp)).toBe(true);
    expect(spawnSync('ls', ['-A', inputs.contextDir], { encoding: 'utf8' }).stdout).toBe('Dockerfile\n');
    inputs.release();
    expect(existsSync(inputs.contextDir)).toBe(false);
    expect(spawnSync('ls', ['-A', tmp], { encoding: 'utf8' }).stdout).toBe('');
  });

  it('context -: a tar archive, plain or gzip, unpacked with its Containerfile', async () => {
    mkdirSync(join(dir, 'src/sub'), { recursive: true });
    writeFileSync(join(dir, 'src/Containerfile'), 'FROM tarred\nCOPY sub /sub\n');
    writeFileSync(join(dir, 'src/sub/file'), 'inside\n');
    for (const flags of ['-cf', '-czf']) {
      const archive = spawnSync('tar', [flags, '-', '-C', join(dir, 'src'), '.']);
      expect(archive.status).toBe(0);
      const inputs = await readBuildInputs(options({ contextDir: '-', stdin: Readable.from([archive.stdout]) }));
      expect(inputs.containerfiles.map((c) => c.text)).toEqual(['FROM tarred\nCOPY sub /sub\n']);
      expect(readFileSync(join(inputs.contextDir, 'sub/file'), 'utf8')).toBe('inside\n');
      inputs.release();
      expect(existsSync(inputs.contextDir)).toBe(false);
    }
  });

  it('standard input cannot be both the context and a Containerfile', async () => {
    expect(await refusal({ contextDir: '-', files: ['-'] })).toMatch(/cannot both come from standard input/);
  });
});
