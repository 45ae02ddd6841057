/**
 * hutch build as the unprivileged user, on a busybox base imported into the
 * suite's own store: every instruction and flag read back from the image
 * (hutch inspect) and from containers of it (hutch run), USER steps, stages,
 * the layer cache, reproducible digests, and each bad input with its one
 * line, its exit status and the store left as it was.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFileServer, type FileServer } from '../helpers/differential.js';
import {
  errorLines,
  hutchAsync,
  fail,
  failAsync,
  hutch,
  hutchRun,
  ok,
  okAsync,
  sandbox,
  storeListing,
  type Sandbox,
} from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { hutchBin, repoRoot, requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

interface Inspected {
  Id: string;
  Config: Record<string, unknown>;
  Author: string;
  ManifestType: string;
  Created: string;
  RootFS: { Layers: string[] };
  History: { created?: string; created_by?: string; empty_layer?: boolean }[];
}

describe.skipIf(need.skip)('hutch build', () => {
  let box: Sandbox;
  let work: string;
  let storage: string;
  let contexts = 0;

  /** A fresh context directory with these files (a string is a file's content). */
  const context = (files: Record<string, string>): string => {
    const dir = join(work, `ctx-${contexts++}`);
    mkdirSync(dir);
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(join(dir, name, '..'), { recursive: true });
      writeFileSync(join(dir, name), content);
    }
    return dir;
  };
  const build = (dir: string, ...args: string[]) => ok(['build', ...args, dir], box);
  const inspect = (image: string): Inspected =>
    (JSON.parse(ok(['inspect', image], box)) as Inspected[])[0] as Inspected;
  const run = (image: string, ...command: string[]) => ok(['run', '--rm', image, ...command], box);
  const sh = (image: string, script: string) => run(image, 'sh', '-c', script);

  beforeAll(async () => {
    box = sandbox();
    work = mkdtempSync(join(tmpdir(), 'hutch-build-'));
    storage = join(box.env.XDG_DATA_HOME as string, 'hutch');
    ok(['import', await busyboxRootfsTar(), 'busybox'], box);
  });
  afterAll(() => {
    box.dispose(work);
  });

  it('builds every instruction into the config, history and layers', () => {
    const dir = context({
      Containerfile: [
        'FROM busybox',
        'MAINTAINER someone@example.com',
        'ARG NAME=world',
        'ENV GREETING="hello" OTHER=x',
        'LABEL org.example.a=1 "b c"=d',
        'WORKDIR /app',
        'COPY *.txt ./',
        'COPY dir /app/dir/',
        'COPY <<EOF /app/inline.conf',
        'name=${NAME}',
        'EOF',
        'RUN echo "$GREETING $NAME" > greeting && printf "%s" "$HOME" > home',
        'RUN ["/bin/sh", "-c", "echo exec form > exec.txt"]',
        'RUN <<EOF',
        'echo heredoc > heredoc.txt',
        'EOF',
        'SHELL ["/bin/sh", "-ec"]',
        'RUN case $- in *e*) echo errexit > shell.txt;; esac',
        'EXPOSE 8080 53/udp',
        'VOLUME /data',
        'STOPSIGNAL SIGUSR1',
        'HEALTHCHECK --interval=30s --retries=2 CMD ["true"]',
        'ONBUILD RUN echo triggered > /triggered',
        'ENTRYPOINT ["/bin/sh", "-c"]',
        'CMD ["cat /app/greeting"]',
        '',
      ].join('\n'),
      'a.txt': 'A\n',
      'b.txt': 'B\n',
      'c.md': 'not copied\n',
      'dir/sub/file': 'deep\n',
    });
    const out = build(
      dir,
      '-t',
      'every',
      '-t',
      'every:v2',
      '--build-arg',
      'NAME=builder',
      '--label',
      'from.flag=yes',
      '--iidfile',
      join(work, 'iid'),
    );
    expect(out).toMatch(/^STEP 1\/21: FROM busybox$/m);
    expect(out).toMatch(/^STEP 10\/21: RUN echo "\$GREETING \$NAME"/m);
    const id = out.trim().split('\n').at(-1) as string;
    expect(readFileSync(join(work, 'iid'), 'utf8')).toBe(`sha256:${id}`);
    const image = inspect('every');
    expect(image.Id).toBe(id);
    expect(inspect('every:v2').Id).toBe(id);
    expect(image.Author).toBe('someone@example.com');
    expect(image.Config).toMatchObject({
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'GREETING=hello', 'OTHER=x'],
      Labels: { 'org.example.a': '1', 'b c': 'd', 'from.flag': 'yes' },
      WorkingDir: '/app',
      ExposedPorts: { '8080/tcp': {}, '53/udp': {} },
      Volumes: { '/data': {} },
      StopSignal: 'SIGUSR1',
      Healthcheck: { Test: ['CMD', 'true'], Interval: 30e9, Retries: 2 },
      OnBuild: ['RUN echo triggered > /triggered'],
      Shell: ['/bin/sh', '-ec'],
      Entrypoint: ['/bin/sh', '-c'],
      Cmd: ['cat /app/greeting'],
    });
    // busybox's one layer, then WORKDIR (creates /app), 3 COPY and 4 RUN: one layer each.
    expect(image.RootFS.Layers).toHaveLength(9);
    const history = image.History;
    expect(history.filter((h) => h.empty_layer !== true)).toHaveLength(9);
    expect(history.map((h) => h.created_by)).toContain('/bin/sh -c #(nop) ENV GREETING=hello OTHER=x');
    expect(history.map((h) => h.created_by)).toContain(
      '|1 NAME=builder /bin/sh -c echo "$GREETING $NAME" > greeting && printf "%s" "$HOME" > home',
    );
    expect(history.find((h) => h.created_by?.includes('COPY dir:'))?.created_by).toMatch(/ in \/app\/dir $/);

    expect(run('every')).toBe('hello builder\n');
    const files = run(
      'every',
      'cd /app && cat a.txt b.txt dir/sub/file inline.conf exec.txt heredoc.txt shell.txt home; ls',
    );
    expect(files).toBe(
      'A\nB\ndeep\nname=builder\nexec form\nheredoc\nerrexit\n/root' +
        'a.txt\nb.txt\ndir\nexec.txt\ngreeting\nheredoc.txt\nhome\ninline.conf\nshell.txt\n',
    );
  });

  it('runs ONBUILD triggers in the stage built on the image, once', () => {
    const dir = context({ Containerfile: 'FROM every\nRUN test -f /triggered && echo seen\n' });
    const out = build(dir, '-t', 'triggered');
    // buildah's count: FROM is told before the base's triggers are known, the next steps count them.
    expect(out).toMatch(/^STEP 1\/2: FROM every\nSTEP 2\/3: RUN echo triggered > \/triggered \(ONBUILD\)\n/m);
    expect(out).toMatch(/^seen$/m);
    expect(inspect('triggered').Config.OnBuild).toBeUndefined();
  });

  it('runs RUN, WORKDIR and COPY as Docker does for USER steps', () => {
    const dir = context({
      Containerfile: [
        'FROM busybox',
        'RUN echo "app:x:1500:1500::/home/app:/bin/sh" >> /etc/passwd && echo "app:x:1500:" >> /etc/group && echo "extra:x:1600:app" >> /etc/group',
        'COPY owned-by-root /srv/',
        'USER app',
        'WORKDIR /srv/work',
        'RUN id > id.txt && touch made-by-app && echo $HOME > home.txt',
        'COPY --chown=app:extra --chmod=0640 owned-by-root /srv/chowned',
        'COPY --chown=1234 owned-by-root /srv/numeric',
        'USER 1700:1600',
        'RUN id > /tmp/numeric-id',
        '',
      ].join('\n'),
      'owned-by-root': 'x\n',
    });
    build(dir, '-q', '-t', 'users');
    expect(inspect('users').Config.User).toBe('1700:1600');
    const listing = sh(
      'users',
      'stat -c "%n %u:%g %a" /srv /srv/owned-by-root /srv/work /srv/work/made-by-app /srv/chowned /srv/numeric; cat /srv/work/id.txt /srv/work/home.txt /tmp/numeric-id',
    );
    expect(listing.split('\n')).toEqual([
      '/srv 0:0 755',
      '/srv/owned-by-root 0:0 644',
      '/srv/work 1500:1500 755',
      '/srv/work/made-by-app 1500:1500 644',
      '/srv/chowned 1500:1600 640',
      '/srv/numeric 1234:1234 644',
      // The primary group, then the groups of /etc/group naming the user.
      'uid=1500(app) gid=1500(app) groups=1500(app),1600(extra)',
      '/home/app',
      'uid=1700 gid=1600(extra) groups=1600(extra)',
      '',
    ]);
  });

  it('refuses a USER name the image does not know at the RUN that needs it', () => {
    const dir = context({ Containerfile: 'FROM busybox\nUSER nobody-here\nRUN true\n' });
    const line = fail(['build', dir], box);
    expect(line).toMatch(
      /^Error: building at STEP "RUN true": \S+\/Containerfile:3:1: unable to find user nobody-here/,
    );
  });

  it('builds stages, COPY --from a stage, an index and an image, FROM a stage and --target', () => {
    const dir = context({
      Containerfile: [
        'FROM busybox AS one',
        'RUN echo one > /one',
        'FROM busybox AS two',
        'RUN echo two > /two && chown 1000:1000 /two',
        'FROM one AS three',
        'COPY --from=two /two /from-two',
        'COPY --from=0 /one /from-index',
        'COPY --from=busybox /etc/passwd /from-image',
        'FROM busybox AS unused',
        'RUN exit 1',
        '',
      ].join('\n'),
    });
    const out = build(dir, '--target', 'three', '-t', 'staged');
    // buildah's prefix: the stage's number of those up to the target.
    expect(out).toMatch(/^\[1\/3\] STEP 1\/2: FROM busybox AS one$/m);
    expect(out).toMatch(/^\[2\/3\] STEP 2\/2: RUN/m);
    expect(out).toMatch(/^\[3\/3\] COMMIT staged$/m);
    expect(out).not.toMatch(/FROM busybox AS unused/);
    expect(sh('staged', 'cat /one /from-two /from-index; stat -c "%u:%g" /from-two; head -1 /from-image')).toBe(
      'one\ntwo\none\n1000:1000\nroot:x:0:0:root:/root:/bin/sh\n',
    );
  });

  it('reuses cached steps, reruns from the step whose input changed, and not at all with --no-cache', () => {
    const dir = context({
      Containerfile:
        'FROM busybox\nCOPY first /first\nRUN cat /first > /copy\nCOPY second /second\nRUN cat /second >> /copy\n',
      first: '1\n',
      second: '2\n',
    });
    const cold = build(dir, '-t', 'cached');
    expect(cold).not.toMatch(/Using cache/);
    const warm = build(dir, '-t', 'cached');
    expect(warm.match(/--> Using cache [0-9a-f]{64}/g)).toHaveLength(4);
    expect(warm.trim().split('\n').at(-1)).toBe(cold.trim().split('\n').at(-1));
    writeFileSync(join(dir, 'second'), '3\n');
    const changed = build(dir, '-t', 'cached');
    const steps = changed.split(/^(?=STEP )/m).filter((s) => s.startsWith('STEP'));
    expect(steps.map((s) => s.includes('Using cache'))).toEqual([false, true, true, false, false]);
    expect(sh('cached', 'cat /copy')).toBe('1\n3\n');
    const fresh = build(dir, '--no-cache', '-t', 'cached');
    expect(fresh).not.toMatch(/Using cache/);
  });

  it('on a terminal shows a live view of the running step with its time, and plain STEP lines without one', () => {
    const dir = context({
      Containerfile: 'FROM busybox\nRUN echo first; sleep 1; echo second\nCMD ["true"]\n',
    });
    const env: NodeJS.ProcessEnv = { ...box.env, TERM: 'xterm' };
    delete env.CI;
    // script(1) gives hutch a pseudo-terminal as standard output, as an interactive shell would.
    const command = `${hutchBin} build --no-cache -t live ${dir}`;
    const tty = spawnSync('script', ['-qec', command, '/dev/null'], { env, encoding: 'utf8' });
    expect(tty.status).toBe(0);
    const out = tty.stdout;
    // The view: a spinner line for the RUN step with its elapsed time, redrawn in place (ESC[nF ESC[J).
    expect(out).toMatch(/\S STEP 2\/3: RUN echo first; sleep 1; echo second {2}\d+\.\ds\r?\n/);
    expect(out).toContain('\x1b[1F\x1b[J');
    expect(out).toMatch(/(?:\n|\[J)first\r?\n/);
    expect(out).toMatch(/--> [0-9a-f]{11} \((?:1\.\d|[2-9]\.\d)s\)/);
    // The view is gone before the image id: the last line is the id alone.
    expect(out.trimEnd().split(/\r?\n/).at(-1)).toMatch(/^[0-9a-f]{64}$/);

    const plain = ok(['build', '--no-cache', '-t', 'live', dir], box);
    expect(plain).not.toContain('\x1b');
    expect(plain).toMatch(/^STEP 2\/3: RUN echo first; sleep 1; echo second\nfirst\nsecond\n--> [0-9a-f]{11}\n/m);
  });

  it("trusts a context file's hash from the last build only while its times are the same", () => {
    const dir = context({ Containerfile: 'FROM busybox\nCOPY a.txt /a.txt\n', 'a.txt': 'aaaa\n' });
    const file = join(dir, 'a.txt');
    const hourAgo = new Date(Date.now() - 3600_000);
    utimesSync(file, hourAgo, hourAgo);
    // utimes sets the ctime to now: hashes are recorded only for files left alone for 2 s.
    spawnSync('sleep', ['2.2']);
    expect(build(dir)).not.toMatch(/Using cache/);
    expect(build(dir)).toMatch(/COPY a\.txt \/a\.txt\n--> Using cache/);
    // The same size and the same mtime, other content: only the ctime tells, and it must.
    writeFileSync(file, 'bbbb\n');
    utimesSync(file, hourAgo, hourAgo);
    const rebuilt = build(dir, '-t', 'hashed');
    expect(rebuilt).not.toMatch(/Using cache/);
    expect(run('hashed', 'cat', '/a.txt')).toBe('bbbb\n');
  });

  it('keeps the cache of a stage the image does not contain through garbage collection', () => {
    const dir = context({
      Containerfile:
        'FROM busybox AS builder\nRUN echo built > /artifact\nFROM busybox\nCOPY --from=builder /artifact /artifact\n',
    });
    build(dir, '-q', '-t', 'from-builder');
    ok(['image', 'prune', '-f'], box);
    const again = build(dir, '-t', 'from-builder');
    expect(again).toMatch(/\[1\/2\] STEP 2\/2: RUN echo built > \/artifact\n--> Using cache/);
  });

  it('makes the same image twice with SOURCE_DATE_EPOCH, and with --timestamp', () => {
    const dir = context({ Containerfile: 'FROM busybox\nCOPY f /f\nRUN echo now > /now && mkdir /made\n', f: 'f\n' });
    const env = { ...box.env, SOURCE_DATE_EPOCH: '1700000000' };
    const first = ok(['build', '-q', '--no-cache', dir], { env });
    const second = ok(['build', '-q', '--no-cache', dir], { env });
    expect(second).toBe(first);
    const image = inspect(first.trim());
    expect(image.Created).toBe('2023-11-14T22:13:20.000Z');
    expect(image.History.at(-1)?.created).toBe('2023-11-14T22:13:20.000Z');
    expect(sh(first.trim(), 'stat -c %Y /made /now')).toBe('1700000000\n1700000000\n');
    const flagged = ok(['build', '-q', '--no-cache', '--timestamp', '1700000000', dir], box);
    expect(flagged).toBe(first);
    const other = ok(['build', '-q', '--no-cache', '--timestamp', '1700000001', dir], box);
    expect(other).not.toBe(first);
  });

  it('ADD unpacks a local tar and fetches a URL checked by --checksum', async () => {
    const tarDir = join(work, 'tar-src');
    mkdirSync(join(tarDir, 'pkg'), { recursive: true });
    writeFileSync(join(tarDir, 'pkg', 'inside'), 'unpacked\n');
    const dir = context({});
    spawnSync('tar', ['-czf', join(dir, 'pkg.tar.gz'), '--owner=1000', '--group=1000', '-C', tarDir, 'pkg']);
    const body = 'remote content\n';
    const digest = createHash('sha256').update(body).digest('hex');
    const server: FileServer = await startFileServer({ 'remote.txt': body });
    try {
      writeFileSync(
        join(dir, 'Containerfile'),
        `FROM busybox\nADD pkg.tar.gz /opt/\nADD --checksum=sha256:${digest} ${server.url}/remote.txt /dl/\n`,
      );
      await okAsync(['build', '-q', '-t', 'added', dir], box);
      expect(
        sh('added', 'cat /opt/pkg/inside /dl/remote.txt; stat -c "%u:%g" /opt/pkg/inside; stat -c %a /dl/remote.txt'),
      ).toBe('unpacked\nremote content\n1000:1000\n600\n');

      writeFileSync(
        join(dir, 'Containerfile'),
        `FROM busybox\nADD --checksum=sha256:${'0'.repeat(64)} ${server.url}/remote.txt /dl/\n`,
      );
      const before = storeListing(storage);
      const line = await failAsync(['build', dir], box);
      expect(line).toMatch(
        /^Error: building at STEP "ADD --checksum=\S+ http:\S+ \/dl\/": \S+\/Containerfile:2:\d+: ADD http:.*remote\.txt: digest mismatch/,
      );
      expect(storeListing(storage)).toEqual(before);

      // A URL the server has nothing at: the step's file and line, then what the server said.
      writeFileSync(join(dir, 'Containerfile'), `FROM busybox\nADD ${server.url}/missing.txt /dl/\n`);
      const missing = await hutchRun(['build', dir], box);
      expect(missing.status).toBe(125);
      expect(errorLines(missing.stderr)).toEqual([
        expect.stringMatching(
          /^Error: building at STEP "ADD http:\S*\/missing\.txt \/dl\/": \S*\/Containerfile:2:\d+: ADD http:\S*\/missing\.txt: the server answered 404 Not Found$/,
        ),
      ]);
      expect(missing.stderr).toContain('hint: check the URL: the server has no file there');
      expect(storeListing(storage)).toEqual(before);
    } finally {
      await server.stop();
    }
  });

  it('gives RUN steps slirp4netns by default, reaching the host only where allowed', async () => {
    const server = await startFileServer({ 'fetched.txt': 'over the network\n' });
    try {
      const port = new URL(server.url).port;
      const dir = context({
        Containerfile: `FROM busybox\nRUN cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d ' ' | sort > /ifaces && wget -q -O /fetched http://10.0.2.2:${port}/fetched.txt\n`,
      });
      await okAsync(['build', '-q', '-t', 'networked', '--network', 'slirp4netns:allow_host_loopback=true', dir], box);
      expect(sh('networked', 'cat /ifaces /fetched')).toBe('lo\ntap0\nover the network\n');
      expect(server.requests).toEqual(['/fetched.txt']);
      // podman's default: the host's loopback is not reachable.
      const line = await failAsync(['build', '--no-cache', dir], box, 1);
      expect(line).toMatch(
        /^Error: building at STEP "RUN .*": \S+\/Containerfile:2:1: while running runtime: exit status 1$/,
      );
    } finally {
      await server.stop();
    }
  });

  it('RUN --mount: bind from the context and a stage, a cache kept between builds, tmpfs, secrets', () => {
    const secretFile = join(work, 'token');
    writeFileSync(secretFile, 's3cret');
    const dir = context({
      Containerfile: [
        'FROM busybox AS tools',
        'RUN echo from-stage > /tool',
        'FROM busybox',
        'RUN --mount=type=bind,source=data,target=/mnt/data --mount=type=bind,from=tools,source=/tool,target=/mnt/tool cat /mnt/data/in /mnt/tool > /bound',
        'RUN --mount=type=cache,target=/var/cache/thing,id=thing echo run >> /var/cache/thing/log && wc -l < /var/cache/thing/log > /cache-lines',
        'RUN --mount=type=tmpfs,target=/scratch grep -q "tmpfs /scratch" /proc/mounts && echo tmpfs > /scratch/f && cat /scratch/f > /tmpfs-seen',
        'RUN --mount=type=secret,id=token,mode=0440,uid=1000 --mount=type=secret,id=token,env=TOKEN stat -c "%a %u" /run/secrets/token > /secret-meta && cat /run/secrets/token > /dev/null && test "$TOKEN" = s3cret && echo ok > /secret-ok',
        '',
      ].join('\n'),
      'data/in': 'from-context\n',
    });
    const args = ['build', '-q', '--secret', `id=token,src=${secretFile}`, '-t', 'mounted', dir];
    ok(args, box);
    expect(
      sh(
        'mounted',
        'cat /bound /cache-lines /tmpfs-seen /secret-meta /secret-ok; for p in /scratch /run/secrets /mnt; do test -e $p && echo $p; done; true',
      ),
    ).toBe('from-context\nfrom-stage\n1\ntmpfs\n440 1000\nok\n');
    // The cache mount outlives the build: a rebuild of that step appends to the same log.
    ok([...args.slice(0, 1), '--no-cache', ...args.slice(1)], box);
    expect(sh('mounted', 'cat /cache-lines')).toBe('2\n');
    // What a bind mount reads is part of the step's key.
    writeFileSync(join(dir, 'data', 'in'), 'changed\n');
    ok(args, box);
    expect(sh('mounted', 'head -1 /bound')).toBe('changed\n');
  });

  it('--squash merges the new layers onto the base, --squash-all makes one layer', () => {
    const dir = context({
      Containerfile:
        'FROM busybox\nRUN mkdir /d && echo 1 > /d/one && echo 2 > /d/two\nRUN rm /d/one /etc/group && echo 3 > /d/three\n',
    });
    build(dir, '-q', '--squash', '-t', 'squashed');
    const squashed = inspect('squashed');
    expect(squashed.RootFS.Layers).toHaveLength(2);
    expect(squashed.RootFS.Layers[0]).toBe(inspect('busybox').RootFS.Layers[0]);
    expect(squashed.History.filter((h) => h.empty_layer !== true)).toHaveLength(2);
    const listing = 'ls /d; test -e /etc/group || echo no-group; test -e /etc/passwd && echo passwd';
    expect(sh('squashed', listing)).toBe('three\ntwo\nno-group\npasswd\n');
    build(dir, '-q', '--squash-all', '-t', 'squashed-all');
    expect(inspect('squashed-all').RootFS.Layers).toHaveLength(1);
    expect(sh('squashed-all', listing)).toBe('three\ntwo\nno-group\npasswd\n');
  });

  it('reads -f FILE and -f -, writes --format docker, and gives RUN --network none no network', () => {
    const dir = context({
      'other.file': 'FROM busybox\nRUN cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " " > /ifaces\n',
    });
    build(dir, '-q', '-f', join(dir, 'other.file'), '--network', 'none', '--format', 'docker', '-t', 'isolated');
    expect(sh('isolated', 'cat /ifaces')).toBe('lo\n');
    expect(inspect('isolated').ManifestType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    const piped = hutch(['build', '-q', '-f', '-', dir], { env: box.env, input: 'FROM busybox\nLABEL piped=yes\n' });
    expect(piped.status, piped.stderr).toBe(0);
    expect(inspect(piped.stdout.trim()).Config.Labels).toEqual({ piped: 'yes' });
  });

  describe("bad input: one line (podman's `building at STEP` for a step) with file:line, non-zero exit, the store as it was", () => {
    const refused = (files: Record<string, string>, pattern: RegExp, status = 125, ...flags: string[]) => {
      const dir = context(files);
      const before = storeListing(storage);
      const line = fail(['build', ...flags, dir], box, status);
      expect(line).toMatch(pattern);
      expect(storeListing(storage)).toEqual(before);
      return line;
    };

    it('an ADD of a bzip2 tar without bzip2 installed: the line, and the package to install', () => {
      // A PATH with everything of /usr/bin and /bin but bzip2.
      const bin = join(work, 'no-bzip2');
      mkdirSync(bin);
      for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
        for (const name of readdirSync(dir)) {
          if (name === 'bzip2' || existsSync(join(bin, name))) continue;
          symlinkSync(join(dir, name), join(bin, name));
        }
      }
      const dir = context({ Containerfile: 'FROM busybox\nADD archive.tar.bz2 /x/\n' });
      copyFileSync(join(repoRoot, 'test/corpus/80-add-tar-bzip2-xz/archive.tar.bz2'), join(dir, 'archive.tar.bz2'));
      const before = storeListing(storage);
      const result = hutch(['build', dir], { env: { ...box.env, PATH: bin } });
      expect(result.status).toBe(125);
      expect(errorLines(result.stderr)).toEqual([
        `Error: building at STEP "ADD archive.tar.bz2 /x/": ${dir}/Containerfile:2:1: ADD archive.tar.bz2: bzip2 not found on PATH: hutch runs it to (de)compress the bzip2 archives ADD unpacks`,
      ]);
      expect(result.stderr).toMatch(/^hint: install the bzip2 package/m);
      expect(storeListing(storage)).toEqual(before);
    });

    it('a syntax error', () => {
      refused(
        { Containerfile: 'FROM busybox\nRUN true\nFROBNICATE now\n' },
        /^Error: \S+\/Containerfile:3:1: unknown instruction: FROBNICATE/,
      );
    });

    it('COPY of a path outside the context, directly or through a symlink', () => {
      refused(
        { Containerfile: 'FROM busybox\nCOPY ../secret /x\n' },
        /^Error: building at STEP "COPY \.\.\/secret \/x": \S+\/Containerfile:2:6: COPY \.\.\/secret: forbidden path outside the build context/,
      );
      const dir = context({ Containerfile: 'FROM busybox\nCOPY link /x\n' });
      symlinkSync('/etc/passwd', join(dir, 'link'));
      const before = storeListing(storage);
      expect(fail(['build', dir], box)).toMatch(
        /^Error: building at STEP "COPY link \/x": \S+\/Containerfile:2:6: COPY link: forbidden path outside the build context/,
      );
      expect(storeListing(storage)).toEqual(before);
    });

    it('a missing stage', () => {
      refused(
        { Containerfile: 'FROM busybox AS a\nRUN true\n' },
        /target stage "nosuch" could not be found/,
        125,
        '--target',
        'nosuch',
      );
      refused(
        { Containerfile: 'FROM busybox AS first\nCOPY --from=later /x /x\nFROM busybox AS later\n' },
        /Containerfile:2:\d+: cannot copy from stage "later", it needs to be defined before current stage/,
        125,
        '--target',
        'first',
      );
    });

    it('a failing RUN: its exit status, output and line', () => {
      const dir = context({ Containerfile: 'FROM busybox\n\nRUN echo about to fail && exit 7\n' });
      const before = storeListing(storage);
      const result = hutch(['build', dir], box);
      expect(result.status).toBe(7);
      expect(result.stdout).toMatch(/^about to fail$/m);
      expect(errorLines(result.stderr)).toEqual([
        `Error: building at STEP "RUN echo about to fail && exit 7": ${dir}/Containerfile:3:1: while running runtime: exit status 7`,
      ]);
      expect(storeListing(storage)).toEqual(before);
    });

    it('an interrupt: the running RUN is killed, exit 130, nothing left behind', async () => {
      const dir = context({ Containerfile: 'FROM busybox\nRUN echo started && sleep 600\n' });
      const before = storeListing(storage);
      const child = hutchAsync(['build', '--no-cache', dir], box);
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      await new Promise<void>((resolve) => {
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          if (/^started$/m.test(stdout)) resolve();
        });
      });
      child.kill('SIGINT');
      const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(status).toBe(130);
      expect(errorLines(stderr)).toEqual(['Error: the build was interrupted']);
      // layers/l: the overlay driver's short links, made at a store's first mount.
      const listing = (paths: string[]) => paths.filter((p) => p !== 'layers/l');
      expect(listing(storeListing(storage))).toEqual(listing(before));
      const sleeping = spawnSync('pgrep', ['-u', String(process.getuid?.()), '-f', 'sleep 600'], { encoding: 'utf8' });
      expect(sleeping.stdout).toBe('');
    });

    it('flags and mounts that are not supported', () => {
      refused(
        { Containerfile: 'FROM busybox\n' },
        /--ssh is not supported by hutch build yet/,
        125,
        '--ssh',
        'default',
      );
      refused(
        { Containerfile: 'FROM busybox\nRUN --mount=type=ssh true\n' },
        /^Error: building at STEP "RUN --mount=type=ssh true": \S+\/Containerfile:2:\d+: RUN --mount=type=ssh: SSH agent forwarding is not supported by hutch build/,
      );
      refused(
        { Containerfile: 'FROM busybox\nRUN --mount=type=bind,rw,target=/x true\n', x: '' },
        /building at STEP "RUN --mount=type=bind,rw,target=\/x true": \S+\/Containerfile:2:\d+: RUN --mount=type=bind: rw .* is not supported by hutch build/,
      );
      refused(
        { Containerfile: 'FROM busybox\nRUN --mount=type=secret,id=token,required=true true\n' },
        /building at STEP "RUN --mount=type=secret,id=token,required=true true": \S+\/Containerfile:2:\d+: RUN --mount=type=secret: secret token was not given/,
      );
    });
  });
});
