/**
 * `hutch build` as podman build's scripts (and podman's own system tests)
 * see it, as the unprivileged user: the lines it prints, the context and
 * Containerfiles it finds (`-f` relative to the context, `build -` from
 * standard input), --layers and BUILDAH_LAYERS, the pull policy flags,
 * --ignorefile with buildah's exception rule, --logfile, --authfile, what
 * RUN steps get from --security-opt, --cap-drop, -v and --ulimit, --env and
 * --unsetenv in the image, and thirty builds at once.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorLines, fail, hutch, hutchRun, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { hutchBin, requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

interface Inspected {
  Id: string;
  Config: { Env?: string[]; Labels?: Record<string, string> };
  RootFS: { Layers: string[] };
}

describe.skipIf(need.skip)('hutch build, as podman build behaves', () => {
  let box: Sandbox;
  let work: string;
  let contexts = 0;
  let baseLayers = 0;

  const context = (files: Record<string, string>): string => {
    const dir = join(work, `ctx-${contexts++}`);
    mkdirSync(dir);
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(join(dir, name, '..'), { recursive: true });
      writeFileSync(join(dir, name), content);
    }
    return dir;
  };
  const inspect = (image: string): Inspected =>
    (JSON.parse(ok(['inspect', image], box)) as Inspected[])[0] as Inspected;
  const run = (image: string, script: string) => ok(['run', '--rm', image, 'sh', '-c', script], box);

  beforeAll(async () => {
    box = sandbox();
    work = mkdtempSync(join(tmpdir(), 'hutch-build-cli-'));
    ok(['import', await busyboxRootfsTar(), 'busybox'], box);
    baseLayers = inspect('busybox').RootFS.Layers.length;
  });
  afterAll(() => box.dispose(work));

  it("prints buildah's lines: no --> after FROM nor after the last step, 11-digit ids, COMMIT with the first tag", () => {
    const dir = context({ Containerfile: 'FROM busybox\nENV A=1\nRUN echo ran\nLABEL x=y\n' });
    const cold = ok(['build', '-t', 'lines', dir], box);
    expect(cold).toMatch(
      new RegExp(
        [
          '^STEP 1/4: FROM busybox',
          'STEP 2/4: ENV A=1',
          '--> [0-9a-f]{11}',
          'STEP 3/4: RUN echo ran',
          'ran',
          '--> [0-9a-f]{11}',
          'STEP 4/4: LABEL x=y',
          'COMMIT lines',
          '--> [0-9a-f]{11}',
          'Successfully tagged \\S*lines:latest',
          '[0-9a-f]{64}\n$',
        ].join('\n'),
      ),
    );
    const id = cold.trim().split('\n').at(-1) as string;
    expect(cold).toContain(`--> ${id.slice(0, 11)}\nSuccessfully tagged`);

    // Cached: each step says so, then its id; the last step only says so. Every name of the image is told.
    const warm = ok(['build', '-t', 'again', '-t', 'lines:two', dir], box);
    expect(warm).toMatch(/^STEP 2\/4: ENV A=1\n--> Using cache ([0-9a-f]{64})\n--> ([0-9a-f]{11})\n/m);
    const [, key, short] = /--> Using cache ([0-9a-f]{64})\n--> ([0-9a-f]{11})/.exec(warm) as RegExpExecArray;
    expect(short).toBe(key?.slice(0, 11));
    expect(warm).toMatch(/STEP 4\/4: LABEL x=y\n--> Using cache [0-9a-f]{64}\nCOMMIT again\n--> [0-9a-f]{11}\n/);
    const tagged = warm.match(/^Successfully tagged (\S+)$/gm) ?? [];
    expect(tagged.map((l) => l.replace(/^Successfully tagged \S*\//, ''))).toEqual([
      'again:latest',
      'lines:two',
      'lines:latest',
    ]);
    expect(warm.trim().split('\n').at(-1)).toBe(id);

    // Stages: [i/k] up to the target, and the COMMIT line of the last.
    const staged = context({
      Containerfile: 'FROM busybox AS a\nRUN echo a > /a\nFROM busybox\nCOPY --from=a /a /a\n',
    });
    const out = ok(['build', staged], box);
    expect(out).toMatch(
      /^\[1\/2\] STEP 1\/2: FROM busybox AS a\n\[1\/2\] STEP 2\/2: RUN echo a > \/a\n--> [0-9a-f]{11}\n/,
    );
    expect(out).toMatch(
      /\[2\/2\] STEP 2\/2: COPY --from=a \/a \/a\n\[2\/2\] COMMIT\n--> [0-9a-f]{11}\n[0-9a-f]{64}\n$/,
    );
  });

  it('--layers=false and BUILDAH_LAYERS=false: no cache, no step ids, one new layer; --layers wins over the variable', () => {
    const dir = context({ Containerfile: 'FROM busybox\nRUN echo one > /one\nRUN echo two > /two\n' });
    ok(['build', '-t', 'layered', dir], box);
    expect(inspect('layered').RootFS.Layers).toHaveLength(baseLayers + 2);
    expect(ok(['build', dir], box)).toMatch(/Using cache/);

    const flat = ok(['build', '--layers=false', '-t', 'flat', dir], box);
    expect(flat).not.toMatch(/Using cache/);
    expect(flat).toMatch(
      /^STEP 2\/3: RUN echo one > \/one\nSTEP 3\/3: RUN echo two > \/two\nCOMMIT flat\n--> [0-9a-f]{11}\n/m,
    );
    expect(inspect('flat').RootFS.Layers).toHaveLength(baseLayers + 1);
    expect(run('flat', 'cat /one /two')).toBe('one\ntwo\n');

    const env = { env: { ...box.env, BUILDAH_LAYERS: 'false' } };
    expect(ok(['build', dir], env)).not.toMatch(/Using cache/);
    expect(ok(['build', '--layers=1', dir], env)).toMatch(/Using cache/);
    expect(ok(['build', '--layers=false', dir], { env: { ...box.env, BUILDAH_LAYERS: '1' } })).not.toMatch(
      /Using cache/,
    );
    // pflag's rule: a bool flag takes its value after =, the next word is the context.
    expect(ok(['build', '-q', '--layers', dir], box)).toMatch(/^[0-9a-f]{64}\n$/);
    expect(fail(['build', '--layers=maybe', dir], box)).toBe('Error: invalid argument "maybe" for "--layers" flag');
    expect(fail(['build', '--layers', 'maybe', dir], box)).toBe('Error: accepts at most 1 arg(s), received 2');
    expect(fail(['build', '--squash', '--layers', dir], box)).toBe(
      'Error: cannot specify --squash with --layers and --squash-all with --squash',
    );
  });

  it('finds the context and Containerfiles as podman does: -f beside the context, several -f, none, standard input', () => {
    const dir = context({ 'Containerfile.one': 'FROM scratch\nCOPY . /tmp\n', 'x.txt': 'x\n' });
    const elsewhere = context({ Other: 'FROM busybox\nLABEL other=yes\n' });
    // Relative to the context when nothing is at that path here.
    expect(ok(['build', '-q', '-f', 'Containerfile.one', dir], { env: box.env })).toMatch(/^[0-9a-f]{64}\n$/);
    const missing = hutch(['build', '-f', 'Other', dir], box);
    expect(missing.status).toBe(125);
    expect(errorLines(missing.stderr)).toEqual([`Error: stat ${dir}/Other: no such file or directory`]);
    // Relative to the working directory first.
    const here = hutch(['build', '-q', '-t', 'here', '-f', 'Other', dir], { env: box.env, cwd: elsewhere });
    expect(here.status, here.stderr).toBe(0);
    expect(inspect('here').Config.Labels).toEqual({ other: 'yes' });
    // Without a context: the first Containerfile's directory.
    ok(['build', '-q', '-t', 'nocontext', '-f', join(dir, 'Containerfile.one')], box);
    // Several files are one: the last stage is the image.
    const both = ok(
      ['build', '-t', 'both', '-f', join(dir, 'Containerfile.one'), '-f', join(elsewhere, 'Other'), dir],
      box,
    );
    expect(both).toMatch(/^\[2\/2\] STEP 1\/2: FROM busybox$/m);
    expect(inspect('both').Config.Labels).toEqual({ other: 'yes' });
    expect(fail(['build', '-f', elsewhere, dir], box)).toBe(
      `Error: containerfile: ${JSON.stringify(elsewhere)} cannot be path to a directory`,
    );
    expect(fail(['build', join(dir, 'x.txt')], box)).toBe(
      `Error: context must be a directory: ${JSON.stringify(join(dir, 'x.txt'))}`,
    );
    expect(fail(['build'], box)).toBe('Error: no context directory and no Containerfile specified');
    expect(fail(['build', context({})], box)).toMatch(/^Error: stat \S+\/Dockerfile: no such file or directory$/);

    // build -: a Containerfile on standard input, in an empty context.
    const piped = hutch(['build', '-t', 'piped', '-'], { env: box.env, input: 'FROM busybox\nRUN ls -A / | wc -l\n' });
    expect(piped.status, piped.stderr).toBe(0);
    expect(piped.stdout).toMatch(/^STEP 2\/2: RUN ls -A \/ \| wc -l\n\d+\nCOMMIT piped\n/m);
    // build -: a gzip tar of a context on standard input.
    const tarred = context({ Containerfile: 'FROM busybox\nCOPY sub /sub\n', 'sub/file': 'from the tar\n' });
    const archive = spawnSync('tar', ['-czf', '-', '-C', tarred, '.']);
    const fromTar = spawnSync(hutchBin, ['build', '-q', '-t', 'fromtar', '-'], { env: box.env, input: archive.stdout });
    expect(fromTar.status, fromTar.stderr.toString()).toBe(0);
    expect(run('fromtar', 'cat /sub/file')).toBe('from the tar\n');
  });

  it('--ignorefile, and the exceptions buildah honours below an excluded directory', () => {
    const files: Record<string, string> = { Containerfile: 'FROM busybox\nCOPY ./ /copied/\n' };
    for (const name of ['test1', 'test2', 'subdir1/sub1', 'subdir1/sub2', 'subdir1/sub3', 'subdir2/sub1', 'keep']) {
      files[name] = `${name}\n`;
    }
    files['.dockerignore'] = 'keep\n';
    files['../rules'] = 'test*\n!test2*\nsubdir1\nsubdir2\n!*/sub1*\n!subdir1/sub3*\n';
    const dir = context(files);
    ok(['build', '-q', '-t', 'ignoring', '--ignorefile', join(dir, '../rules'), dir], box);
    expect(run('ignoring', 'cd /copied && find . -type f | sort')).toBe(
      './.dockerignore\n./Containerfile\n./keep\n./subdir1/sub1\n./subdir1/sub3\n./test2\n',
    );
    ok(['build', '-q', '-t', 'ignoring', dir], box);
    expect(run('ignoring', 'cd /copied && find . -type f | sort')).not.toContain('./keep\n');
    expect(fail(['build', '--ignorefile', join(work, 'nothing'), dir], box)).toMatch(
      /^Error: read ignore file \S+nothing: ENOENT/,
    );
  });

  it('pull policies: --pull-never refuses a missing FROM image with podman words; one policy flag at a time', () => {
    const dir = context({ Containerfile: 'FROM busybox\nRUN true\n' });
    expect(ok(['build', '-q', '--pull-never', dir], box)).toMatch(/^[0-9a-f]{64}\n$/);
    expect(ok(['build', '-q', '--pull=never', dir], box)).toMatch(/^[0-9a-f]{64}\n$/);
    const absent = context({ Containerfile: 'FROM quay.io/libpod/nosuchimage:nosuchtag\nRUN true\n' });
    const refused = hutch(['build', '--pull-never', absent], box);
    expect(refused.status).toBe(125);
    expect(refused.stdout).toBe('STEP 1/2: FROM quay.io/libpod/nosuchimage:nosuchtag\n');
    expect(errorLines(refused.stderr)).toEqual([
      'Error: creating build container: quay.io/libpod/nosuchimage:nosuchtag: image not known',
    ]);
    expect(fail(['build', '--pull-never', '--pull=always', dir], box)).toBe(
      "Error: can only set one of 'pull' or 'pull-always' or 'pull-never'",
    );
  });

  it('--logfile takes the output and the id; --authfile must exist; a failing RUN gives its status', () => {
    const dir = context({ Containerfile: 'FROM busybox\nRUN echo logged\n' });
    const log = join(work, 'build.log');
    const logged = hutch(['build', '--logfile', log, '-t', 'logged', dir], box);
    expect(logged.status, logged.stderr).toBe(0);
    expect(logged.stdout).toBe('');
    expect(readFileSync(log, 'utf8')).toMatch(
      /^STEP 1\/2: FROM busybox\n[^]*\nlogged\nCOMMIT logged\n[^]*\n[0-9a-f]{64}\n$/,
    );
    expect(fail(['build', '--logfile', join(work, 'no/such/dir/log'), dir], box)).toMatch(
      /^Error: open \S+log: no such file or directory$/,
    );

    const bogus = hutch(['build', '--authfile=/tmp/bogus-hutch-authfile', '-'], {
      env: box.env,
      input: 'from scratch\n',
    });
    expect(bogus.status).toBe(125);
    expect(errorLines(bogus.stderr)).toEqual([
      'Error: checking authfile: stat /tmp/bogus-hutch-authfile: no such file or directory',
    ]);

    const failing = hutch(['build', context({ Containerfile: 'FROM busybox\nRUN echo before; exit 3\n' })], box);
    expect(failing.status).toBe(3);
    expect(failing.stdout).toMatch(/^STEP 2\/2: RUN echo before; exit 3\nbefore\n$/m);
    expect(errorLines(failing.stderr)).toEqual([
      expect.stringMatching(
        /^Error: building at STEP "RUN echo before; exit 3": \S+\/Containerfile:2:1: while running runtime: exit status 3$/,
      ),
    ]);
  });

  it('RUN steps get --security-opt, --cap-drop, -v and --ulimit, and a step run otherwise is not taken from the cache', () => {
    const host = join(work, 'mounted');
    mkdirSync(host);
    writeFileSync(join(host, 'data'), 'from the host\n');
    const dir = context({
      Containerfile: [
        'FROM busybox',
        "RUN grep -E '^(Seccomp|CapEff):' /proc/self/status | tr -d '\\t' > /status",
        'RUN (cat /mnt/data 2>/dev/null || echo nothing) > /seen; ulimit -n > /nofile',
        '',
      ].join('\n'),
    });
    ok(['build', '-q', '-t', 'confined', dir], box);
    expect(run('confined', 'cat /status /seen')).toMatch(/^CapEff:[0-9a-f]+\nSeccomp:2\nnothing\n$/);
    expect(run('confined', 'cat /status')).not.toContain('CapEff:0000000000000000');
    ok(
      [
        'build',
        '-q',
        '-t',
        'loosened',
        '--security-opt',
        'seccomp=unconfined',
        '--cap-drop',
        'all',
        '-v',
        `${host}:/mnt:ro`,
        '--ulimit',
        'nofile=101:102',
        dir,
      ],
      box,
    );
    expect(run('loosened', 'cat /status /seen /nofile')).toBe(
      'CapEff:0000000000000000\nSeccomp:0\nfrom the host\n101\n',
    );
    // The mount is the step's, not the image's.
    expect(run('loosened', 'test -e /mnt/data && echo present || echo absent')).toBe('absent\n');
  });

  it("--env and --unsetenv set the image's environment, over ENV, and RUN steps do not see them", () => {
    const dir = context({ Containerfile: 'FROM busybox\nENV FROMFILE=file BAR=file\nRUN echo "run:$FOO:$BAR"\n' });
    const out = hutch(
      ['build', '-t', 'envs', '--env', 'FOO=1', '--env', 'BAR=flag', '--env', 'HOSTVAR', '--unsetenv', 'FROMFILE', dir],
      { env: { ...box.env, HOSTVAR: 'from-host' } },
    );
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/^run::file$/m);
    const env = inspect('envs').Config.Env ?? [];
    expect(env.filter((e) => !e.startsWith('PATH='))).toEqual(['BAR=flag', 'FOO=1', 'HOSTVAR=from-host']);
  });

  it('COPY keeps hard links among what it copies', () => {
    const dir = context({ Containerfile: 'FROM busybox\nCOPY . /test\n', 'sub/deeper/.keep': '' });
    for (const link of ['hardlink1', 'sub/hardlink2', 'sub/deeper/hardlink3']) {
      spawnSync('ln', [join(dir, 'Containerfile'), join(dir, link)]);
    }
    ok(['build', '-q', '-t', 'linked', dir], box);
    const inodes = run(
      'linked',
      'stat -c %i /test/Containerfile /test/hardlink1 /test/sub/hardlink2 /test/sub/deeper/hardlink3 /test/sub/deeper/.keep',
    )
      .trim()
      .split('\n');
    expect(new Set(inodes.slice(0, 4)).size).toBe(1);
    expect(inodes[4]).not.toBe(inodes[0]);
    expect(run('linked', 'stat -c %h /test/hardlink1')).toBe('4\n');
  });

  it('thirty builds at once, each with a step of its own, all make their image', async () => {
    const dir = context({ Containerfile: `FROM busybox\nRUN echo ${Date.now()}\n` });
    const builds = Array.from({ length: 30 }, (_, i) =>
      hutchRun(['build', '-q', '--network', 'none', '-t', `parallel-${i}`, dir], box),
    );
    const results = await Promise.all(builds);
    for (const [i, result] of results.entries()) expect(result.status, `build ${i}: ${result.stderr}`).toBe(0);
    const removed = hutch(['rmi', ...Array.from({ length: 30 }, (_, i) => `parallel-${i}`)], box);
    expect(removed.status, removed.stderr).toBe(0);
  }, 240_000);
});
