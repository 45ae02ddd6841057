/**
 * The image verbs through bin/hutch as the unprivileged user, with the
 * output and exit statuses podman 4.3.1 gives on this host (the literal
 * strings below are podman's): images and its filters, sorts and templates,
 * tag/untag/image exists, rmi's errors, history, image tree, save to a pipe,
 * load from a URL, the docker-archive: and oci-archive: names, version.
 * Names are fully qualified so that the default registry does not matter.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { version } from '../../src/package.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { fail, hutch, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { hutchBin, requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

/** The members of a tar file, by name: the bytes of each regular file. */
function tarMembers(file: string): Map<string, Buffer> {
  const listing = spawnSync('tar', ['-tf', file], { encoding: 'utf8' });
  const members = new Map<string, Buffer>();
  for (const name of listing.stdout.split('\n').filter((n) => n !== '' && !n.endsWith('/'))) {
    const body = spawnSync('tar', ['-xOf', file, name], { maxBuffer: 64 * 1024 * 1024 });
    members.set(name, body.stdout);
  }
  return members;
}

/** bin/hutch without blocking this process's event loop. */
function run(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(hutchBin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const isTar = (body: Buffer) => body.subarray(257, 262).toString('latin1') === 'ustar';

describe.skipIf(need.skip)('image verbs, as podman has them', () => {
  let box: Sandbox;
  let work: string;
  let bb: string;
  let app: string;
  const lines = (args: string[]) => ok(args, box).trimEnd().split('\n');

  beforeAll(async () => {
    box = sandbox();
    work = mkdtempSync(join(tmpdir(), 'hutch-images-'));
    const rootfs = await busyboxRootfsTar();
    bb = ok(['import', rootfs, 'localhost/bb:latest'], box).trim();
    writeFileSync(
      join(work, 'Containerfile'),
      'FROM localhost/bb:latest\nLABEL created_by=me\nRUN echo hi > /hello\nCMD ["sh"]\n',
    );
    app = ok(['build', '-q', '-t', 'localhost/app:latest', work], box).trim();
  });
  afterAll(() => {
    box.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('images: the table, -n, -q, --no-trunc, --sort, --digests, json with a row per name', () => {
    const table = lines(['images']);
    expect(table[0]).toMatch(/^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$/);
    expect(table.slice(1).map((l) => l.split(/ +/).slice(0, 3))).toEqual([
      ['localhost/app', 'latest', app.slice(0, 12)],
      ['localhost/bb', 'latest', bb.slice(7, 19)],
    ]);
    // Without the header (the ages may have moved on meanwhile).
    const head = (line: string) => line.split(/ +/).slice(0, 3);
    expect(lines(['images', '-n']).map(head)).toEqual(table.slice(1).map(head));
    expect(lines(['image', 'ls', '-q'])).toEqual([app.slice(0, 12), bb.slice(7, 19)]);
    expect(lines(['image', 'list', '-q', '--no-trunc'])).toEqual([`sha256:${app}`, bb]);
    expect(lines(['images', '--sort', 'repository', '--format', '{{.Repository}}'])).toEqual([
      'localhost/app',
      'localhost/bb',
    ]);
    expect(fail(['images', '--sort', 'bogus'], box)).toBe(
      'Error: "bogus" is not a valid field for sorting. Choose from: created, id, repository, size, tag',
    );
    expect(lines(['images', '--digests'])[0]).toMatch(/^REPOSITORY +TAG +DIGEST +IMAGE ID +CREATED +SIZE$/);
    ok(['tag', 'localhost/bb', 'localhost/bb2:1'], box);
    const json = JSON.parse(ok(['images', '--format', 'json'], box)) as Record<string, unknown>[];
    expect(json).toHaveLength(3);
    expect(Object.keys(json[0] as object)).toEqual([
      'Id',
      'ParentId',
      'RepoTags',
      'RepoDigests',
      'Size',
      'SharedSize',
      'VirtualSize',
      'Labels',
      'Containers',
      'Names',
      'Digest',
      'History',
      'Created',
      'CreatedAt',
    ]);
    expect(json[0]).toMatchObject({ Id: app, ParentId: bb.slice(7), RepoTags: null, Labels: { created_by: 'me' } });
    expect(ok(['images', '--format', '{{json .}}'], box)).toBe(ok(['images', '--format', 'json'], box));
    ok(['untag', 'localhost/bb', 'localhost/bb2:1'], box);
  });

  it("images --format: podman's fields, table templates aligned, plain ones not", () => {
    expect(ok(['images', '--format', '{{.Repository}}:{{.Tag}} {{.Labels.created_by}}', 'app'], box)).toBe(
      'localhost/app:latest me\n',
    );
    expect(ok(['images', '--format', '{{.ID}}\\t{{.VirtualSize}}', 'localhost/bb'], box)).toMatch(
      new RegExp(`^${bb.slice(7, 19)}\\t\\d+\\n$`),
    );
    expect(lines(['images', '--format', 'table {{.ID}} {{.Repository}}', '--sort', 'repository'])).toEqual([
      'IMAGE ID      REPOSITORY',
      `${app.slice(0, 12)}  localhost/app`,
      `${bb.slice(7, 19)}  localhost/bb`,
    ]);
    expect(ok(['images', '--format', '{{.CreatedAt}}', 'app'], box)).toMatch(
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC\n$/,
    );
  });

  it('images --filter: podman keys and errors; an image argument is a reference filter', () => {
    const repos = (...args: string[]) => ok(['images', '--format', '{{.Repository}}', ...args], box).trimEnd();
    expect(repos('--filter', 'label=created_by=me')).toBe('localhost/app');
    expect(repos('-f', 'label!=created_by')).toBe('localhost/bb');
    expect(repos('--filter', 'before=localhost/app')).toBe('localhost/bb');
    expect(repos('--filter', 'since=localhost/bb')).toBe('localhost/app');
    expect(repos('--filter', 'reference=localhost/*')).toBe('localhost/app\nlocalhost/bb');
    expect(repos('--filter', 'reference=app,reference=bb')).toBe('localhost/app\nlocalhost/bb');
    expect(repos('--filter', 'dangling=true')).toBe('');
    expect(repos('--filter', `id=${app}`)).toBe('localhost/app');
    expect(repos('*pp')).toBe('localhost/app');
    expect(fail(['images', '--filter', 'bogus=1'], box)).toBe('Error: unsupported image filter "bogus"');
    expect(fail(['images', '--filter', 'dangling=true', 'app'], box)).toBe(
      'Error: cannot specify an image and a filter(s)',
    );
    expect(fail(['images', '-f', 'since=nothere'], box)).toBe(
      'Error: could not find local image for filter filter "since"="nothere": nothere: image not known',
    );
  });

  it('tag, image exists, untag; names history keeps what rmi and untag took away', () => {
    ok(['tag', 'localhost/app', 'registry.com/image:latest', 'localhost/r1:latest'], box);
    expect(hutch(['image', 'exists', 'registry.com/image:latest'], box)).toMatchObject({
      status: 0,
      stdout: '',
      stderr: '',
    });
    ok(['untag', 'localhost/app', 'registry.com/image:latest'], box);
    expect(hutch(['image', 'exists', 'registry.com/image:latest'], box)).toMatchObject({
      status: 1,
      stdout: '',
      stderr: '',
    });
    expect(fail(['untag', 'localhost/app', 'registry.com/foo:bar'], box)).toBe(
      'Error: registry.com/foo:bar: tag not known',
    );
    expect(ok(['rmi', 'localhost/r1:latest'], box)).toBe('Untagged: localhost/r1:latest\n');
    expect(ok(['images', '--format', '{{.History}}', 'localhost/app'], box)).toBe(
      'localhost/app:latest, localhost/r1:latest, registry.com/image:latest\n',
    );
    expect(ok(['image', 'inspect', '--format', '{{.NamesHistory}}', 'localhost/app'], box)).toBe(
      '[localhost/app:latest localhost/r1:latest registry.com/image:latest]\n',
    );
    // untag without names: every name goes, the image stays.
    ok(['tag', 'localhost/bb', 'localhost/b1', 'localhost/b2'], box);
    ok(['untag', 'localhost/b1'], box);
    expect(ok(['image', 'inspect', '--format', '{{.RepoTags}}', bb], box)).toBe('[]\n');
    ok(['tag', bb, 'localhost/bb:latest'], box);
  });

  it('intermediate images hide without -a; prune removes dangling ones, not those an image is built on', async () => {
    const rootfs = await busyboxRootfsTar();
    const stale = ok(['import', rootfs, 'localhost/stale:1', '--message', 'first'], box).trim();
    // The name moves to a new image: the old one is left without a name and without children.
    ok(['import', rootfs, 'localhost/stale:1', '--message', 'second'], box);
    expect(ok(['images', '-q', '--no-trunc', '--filter', 'dangling=true'], box)).toBe(`${stale}\n`);
    // bb without its name is the base of app: intermediate, not dangling.
    ok(['untag', 'localhost/bb'], box);
    expect(ok(['images', '--format', '{{.ID}}', '--no-trunc'], box)).not.toContain(bb);
    expect(ok(['images', '-a', '--format', '{{.ID}} {{.Repository}}', '--no-trunc'], box)).toContain(`${bb} <none>`);
    expect(ok(['images', '-a', '-q', '--no-trunc', '--filter', 'intermediate=true'], box)).toBe(`${bb}\n`);
    expect(fail(['images', '--filter', 'intermediate=true'], box)).toBe(
      'Error: specifying "intermediate" filter more than once with different values is not supported',
    );
    expect(ok(['image', 'prune', '-f'], box)).toBe(`${stale.slice(7)}\n`);
    expect(ok(['images', '-a', '-q', '--no-trunc', '--filter', `id=${bb.slice(7)}`], box)).toBe(`${bb}\n`);
    ok(['tag', bb, 'localhost/bb:latest'], box);
    ok(['rmi', 'localhost/stale:1'], box);
  });

  it("rmi: podman's errors and exit statuses", () => {
    const two = hutch(['rmi', 'nope1', 'nope2'], box);
    expect(two.status).toBe(1);
    expect(two.stderr).toBe('Error: 2 errors occurred:\n\t* nope1: image not known\n\t* nope2: image not known\n');
    expect(fail(['image', 'rm', 'bogus'], box, 1)).toBe('Error: bogus: image not known');
    expect(hutch(['image', 'rm', '--force', 'bogus'], box)).toMatchObject({ status: 0, stdout: '', stderr: '' });
    expect(hutch(['rmi', '--ignore', 'bogus'], box)).toMatchObject({ status: 0, stdout: '' });
    const container = ok(['create', 'localhost/bb', 'true'], box).trim();
    expect(fail(['rmi', 'localhost/bb'], box, 2)).toBe(
      `Error: image used by ${container}: image is in use by a container: consider listing external containers and force-removing image`,
    );
    ok(['rm', container], box);
  });

  it('history: the table, --quiet, --no-trunc, -H=false', () => {
    const table = lines(['history', 'localhost/app']);
    expect(table[0]).toMatch(/^ID +CREATED +CREATED BY +SIZE +COMMENT$/);
    expect(table[1]).toMatch(new RegExp(`^${app.slice(0, 12)} +.* ago +/bin/sh -c #\\(nop\\) CMD \\["sh"\\] +0 B +$`));
    expect(table[2]).toMatch(/^<missing> +.* ago +\/bin\/sh -c echo hi > \/hello +\d+ B +$/);
    expect(table.at(-1)).toMatch(/^<missing> .*\.\.\. +\d\.?\d* MB +imported from tarball$/);
    expect(lines(['image', 'history', '-q', 'localhost/app'])).toEqual([
      app.slice(0, 12),
      '<missing>',
      bb.slice(7, 19),
      '<missing>',
    ]);
    expect(lines(['history', '-H=false', '--format', '{{.Created}}', 'localhost/app'])[0]).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    );
    expect(lines(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'localhost/bb'])[0]).toMatch(
      /^\/bin\/sh -c #\(nop\) ADD file:[a-f0-9]{64} in \/$/,
    );
    expect(fail(['history', 'nope'], box)).toBe('Error: nope: image not known');
  });

  it('image tree: the layers, bottom first, with the images they top', () => {
    const tree = lines(['image', 'tree', 'localhost/app']);
    expect(tree.slice(0, 4)).toEqual([
      `Image ID: ${app.slice(0, 12)}`,
      'Tags:     [localhost/app:latest]',
      expect.stringMatching(/^Size: {5}\d\.\d+MB$/),
      'Image Layers',
    ]);
    expect(tree[4]).toMatch(/^├── ID: [a-f0-9]{12} Size: +\d\.\d+MB Top Layer of: \[localhost\/bb:latest\]$/);
    expect(tree[5]).toMatch(/^└── ID: [a-f0-9]{12} Size: +\d+B Top Layer of: \[localhost\/app:latest\]$/);
  });

  it('save: to a pipe, refused to a terminal; -m; --uncompressed; load of what it wrote gives the same image', () => {
    const piped = spawnSync(hutchBin, ['save', '--format', 'oci-archive', 'localhost/app'], {
      env: box.env,
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(piped.status, piped.stderr.toString()).toBe(0);
    const oci = join(work, 'app-oci.tar');
    writeFileSync(oci, piped.stdout);
    expect(tarMembers(oci).has('index.json')).toBe(true);
    ok(['rmi', 'localhost/app'], box);
    expect(ok(['load', '-i', oci], box)).toBe('Loaded image: localhost/app:latest\n');
    expect(ok(['images', '-q', '--no-trunc', 'localhost/app'], box)).toBe(`sha256:${app}\n`);

    const script = spawnSync('script', ['-qec', `${hutchBin} save localhost/app`, '/dev/null'], {
      env: box.env,
      encoding: 'utf8',
    });
    expect(script.stdout).toContain('Error: refusing to save to terminal. Use -o flag or redirect');

    const multi = join(work, 'multi.tar');
    ok(['save', '-m', '-o', multi, 'localhost/app', 'localhost/bb'], box);
    const manifest = JSON.parse((tarMembers(multi).get('manifest.json') as Buffer).toString()) as {
      RepoTags: string[];
    }[];
    expect(manifest.map((m) => m.RepoTags)).toEqual([['localhost/app:latest'], ['localhost/bb:latest']]);
    // Without -m the other arguments are more names for the first image.
    const tags = join(work, 'tags.tar');
    ok(['save', '-o', tags, 'localhost/bb', 'localhost/another:1'], box);
    expect(JSON.parse((tarMembers(tags).get('manifest.json') as Buffer).toString())).toEqual([
      expect.objectContaining({ RepoTags: ['localhost/another:1', 'localhost/bb:latest'] }),
    ]);
    expect(fail(['save', '-m', '--format', 'oci-archive', '-o', tags, 'localhost/app', 'localhost/bb'], box)).toBe(
      'Error: unsupported format "oci-archive" for saving multiple images (only docker-archive)',
    );

    const plain = join(work, 'plain.tar');
    ok(['save', '--format', 'oci-archive', '--uncompressed', '-o', plain, 'localhost/app'], box);
    const blobs = [...tarMembers(plain)].filter(([name]) => name.startsWith('blobs/sha256/'));
    expect(blobs.filter(([, body]) => isTar(body))).toHaveLength(2);
  });

  it('load -i URL; pull docker-archive:FILE; create from oci-archive:FILE', async () => {
    const archive = join(work, 'bb.tar');
    ok(['save', '-o', archive, 'localhost/bb'], box);
    const server: Server = createServer((request, response) => {
      if (request.url !== '/bb.tar') {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200);
      createReadStream(archive).pipe(response);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      ok(['rmi', '-f', 'localhost/bb'], box);
      // Not spawnSync: this process serves the archive meanwhile.
      const loaded = await run(['load', '-i', `http://127.0.0.1:${port}/bb.tar`], box.env);
      expect(loaded.stdout, loaded.stderr).toBe('Loaded image: localhost/bb:latest\n');
      const missing = await run(['load', '-i', `http://127.0.0.1:${port}/nope.tar`], box.env);
      expect(missing.status).toBe(125);
      expect(missing.stderr).toMatch(/^Error: load http:\/\/127\.0\.0\.1:\d+\/nope\.tar: download .*: 404 Not Found\n/);
    } finally {
      server.close();
    }
    ok(['rmi', 'localhost/bb'], box);
    expect(ok(['pull', `docker-archive:${archive}`], box)).toBe(`${bb.slice(7)}\n`);
    const oci = join(work, 'bb-oci.tar');
    ok(['save', '--format', 'oci-archive', '-o', oci, 'localhost/bb'], box);
    ok(['rmi', 'localhost/bb'], box);
    expect(ok(['run', '--rm', `oci-archive:${oci}`, 'echo', 'from the archive'], box)).toBe('from the archive\n');
    expect(ok(['images', '-q', '--no-trunc', 'localhost/bb'], box)).toBe(`${bb}\n`);
  });

  it("version: podman's shape, hutch's facts", () => {
    const text = lines(['version']);
    expect(text[0]).toBe('Client:       hutch');
    expect(text[1]).toBe(`Version:      ${version}`);
    expect(ok(['version', '--format', '{{.Client.Version}}'], box)).toBe(`${version}\n`);
    expect(JSON.parse(ok(['version', '--format', 'json'], box))).toMatchObject({
      Client: { Version: version, Os: 'linux' },
    });
  });
});
