/**
 * Issue 7's acceptance for real distributions: a Debian image (debootstrap
 * minbase bookworm, published to a registry on 127.0.0.1) as the base of a
 * `hutch build` whose RUN steps fetch from Debian's archive through the
 * default network of build steps (no --network flag), install a package,
 * create a user and continue as that user; all rootless. The base comes from
 * the registry during the build (plain HTTP: hutch, like podman, allows it
 * for a registry on the loopback). The image is then run to see that each
 * step did what it says.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishImage } from '../helpers/differential.js';
import { hutchRun, ok, sandbox, type Finished, type Sandbox } from '../helpers/hutch.js';
import { debianMirror, debianRootfsTar } from '../helpers/images.js';
import { needRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { missingPrograms, prerequisite, requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');
const needReg = needRegistry();
const skopeo = prerequisite(missingPrograms('skopeo'));
const skip = need.skip || needReg.skip || skopeo.skip;

const CONTAINERFILE = `ARG REGISTRY
FROM \${REGISTRY}/library/debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends hello && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 1500 app && cat /proc/net/dev > /net-dev.txt
USER app
WORKDIR /home/app
RUN hello > greeting.txt && id > id.txt
CMD ["hello"]
`;

describe.skipIf(skip)('a Debian-based build, rootless, through the default network', () => {
  let box: Sandbox;
  let registry: TestRegistry;
  let context: string;
  let build: Finished;
  const tag = 'localhost/debian-hello:latest';

  beforeAll(async () => {
    box = sandbox();
    registry = await startRegistry();
    publishImage(debianRootfsTar(box.env), registry.host, 'debian', 'bookworm', ['bash']);
    context = mkdtempSync(join(tmpdir(), 'hutch-debian-build-'));
    writeFileSync(join(context, 'Containerfile'), CONTAINERFILE);
    build = await hutchRun(['build', '--build-arg', `REGISTRY=${registry.host}`, '-t', tag, context], box);
  }, 900_000);

  afterAll(async () => {
    box?.dispose();
    await registry?.stop();
    if (context !== undefined) rmSync(context, { recursive: true, force: true });
  });

  it('builds, fetching from the Debian archive in a RUN step', () => {
    expect(build.status, `hutch build failed:\n${build.stdout}\n${build.stderr}`).toBe(0);
    const output = `${build.stdout}\n${build.stderr}`;
    expect(output).toMatch(/STEP 2\/\d+: RUN apt-get update/);
    // apt says where it fetched from: the archive this host's apt uses.
    expect(output).toContain(new URL(debianMirror()).host);
    expect(output).toMatch(/Setting up hello /);
  });

  it("ran the steps in a network namespace of their own, not the host's", () => {
    const devices = ok(['run', '--rm', '--network', 'none', tag, 'cat', '/net-dev.txt'], box)
      .split('\n')
      .slice(2)
      .map((line) => line.split(':')[0]?.trim())
      .filter((name): name is string => name !== undefined && name !== '');
    expect(devices).toContain('lo');
    expect(devices.length, devices.join(' ')).toBeGreaterThan(1);
    const hostOnly = Object.keys(networkInterfaces()).filter((name) => name !== 'lo');
    expect(devices.filter((name) => hostOnly.includes(name))).toEqual([]);
  });

  it('records the USER, WORKDIR and CMD in the image', () => {
    const [image] = JSON.parse(ok(['image', 'inspect', tag], box)) as {
      Config: { User?: string; WorkingDir?: string; Cmd?: string[] };
    }[];
    expect(image?.Config.User).toBe('app');
    expect(image?.Config.WorkingDir).toBe('/home/app');
    expect(image?.Config.Cmd).toEqual(['hello']);
  });

  it('ran the steps after USER as that user, in its home', () => {
    expect(ok(['run', '--rm', tag, 'cat', 'id.txt'], box)).toMatch(
      /^uid=1500\(app\) gid=1500\(app\) groups=1500\(app\)/,
    );
    expect(ok(['run', '--rm', tag, 'stat', '-c', '%u:%g %a %n', '/home/app', 'greeting.txt'], box)).toBe(
      '1500:1500 755 /home/app\n1500:1500 644 greeting.txt\n',
    );
    expect(ok(['run', '--rm', tag, 'cat', 'greeting.txt'], box)).toBe('Hello, world!\n');
  });

  it('runs the installed package as the user by default', () => {
    expect(ok(['run', '--rm', tag], box)).toBe('Hello, world!\n');
    expect(ok(['run', '--rm', tag, 'id', '-un'], box)).toBe('app\n');
    expect(ok(['run', '--rm', tag, 'dpkg-query', '-W', '-f', '${Status}', 'hello'], box)).toBe('install ok installed');
  });
});
