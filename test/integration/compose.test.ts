/**
 * Debian's podman-compose (1.0.3) driving hutch (`--podman-path bin/hutch`),
 * unchanged: a compose file with two services on the project's network, one
 * publishing a port (busybox httpd, its page in a named volume, a
 * healthcheck), the other depending on it (`condition: service_healthy`)
 * and reaching it by its service name (a network alias). It comes up with
 * `up -d`, answers from the host and between containers, and `down -v`
 * leaves no container or volume, and nothing running for the network.
 *
 * podman-compose 1.0.3 orders services by their dependencies but does not
 * wait for a condition (with podman neither), and never removes the networks
 * it creates: the test waits for health itself and removes the network last.
 * The image is named in full (localhost/busybox): it resolves to the local
 * image whatever hutch does with short names.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hutch, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { helpersGone, hostGet } from '../helpers/network.js';
import { freePort } from '../helpers/registry.js';
import { hutchBin, requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built', 'podmanCompose');
const PROJECT = 'hcompose';

function composeFile(port: number): string {
  return `services:
  web:
    image: localhost/busybox
    command: ["sh", "-c", "echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports:
      - "127.0.0.1:${port}:8080"
    volumes:
      - site:/www
    healthcheck:
      test: ["CMD-SHELL", "printf 'GET / HTTP/1.0\\\\r\\\\n\\\\r\\\\n' | nc -w 2 127.0.0.1 8080 | grep -q hello-from-web"]
      interval: 1s
      timeout: 5s
      retries: 10
  client:
    image: localhost/busybox
    command: ["sleep", "1000"]
    depends_on:
      web:
        condition: service_healthy
volumes:
  site:
`;
}

describe.skipIf(need.skip)('podman-compose 1.0.3 with --podman-path hutch', () => {
  let box: Sandbox;
  let project: string;
  let port: number;

  const compose = (...args: string[]) =>
    spawnSync('podman-compose', ['--podman-path', hutchBin, '-p', PROJECT, ...args], {
      cwd: project,
      env: box.env,
      encoding: 'utf8',
      timeout: 180_000,
    });
  const inspect = (name: string, format: string) => hutch(['inspect', '--format', format, name], box).stdout.trim();

  beforeAll(async () => {
    box = sandbox();
    ok(['import', await busyboxRootfsTar(), 'localhost/busybox'], box);
    project = mkdtempSync(join(tmpdir(), 'hutch-compose-'));
    port = await freePort();
    writeFileSync(join(project, 'compose.yaml'), composeFile(port));
  });
  afterAll(() => {
    hutch(['rm', '-af'], box);
    hutch(['network', 'rm', '-f', `${PROJECT}_default`], box);
    rmSync(project, { recursive: true, force: true });
    box.dispose();
  });

  it('comes up, turns healthy, answers from the host and by service name, and goes down leaving nothing', async () => {
    const up = compose('up', '-d');
    expect(up.status, `${up.stdout}\n${up.stderr}`).toBe(0);
    // Each podman command it ran, and how it ended.
    expect(up.stdout).not.toMatch(/exit code: [1-9]/);
    const web = `${PROJECT}_web_1`;
    const client = `${PROJECT}_client_1`;

    // The volume and network compose made, labelled with the project.
    expect(JSON.parse(ok(['volume', 'inspect', `${PROJECT}_site`], box))[0].Labels).toMatchObject({
      'io.podman.compose.project': PROJECT,
    });
    expect(hutch(['network', 'exists', `${PROJECT}_default`], box).status).toBe(0);

    // The monitor runs the healthcheck every second: starting, then healthy.
    const deadline = Date.now() + 60_000;
    let health = inspect(web, '{{.State.Health.Status}}');
    while (health !== 'healthy' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      health = inspect(web, '{{.State.Health.Status}}');
    }
    expect(health).toBe('healthy');
    expect(ok(['ps'], box)).toMatch(new RegExp(`Up .* \\(healthy\\) .*${web}`));
    expect(ok(['healthcheck', 'run', web], box)).toBe('');

    expect(await hostGet(port)).toBe('hello-from-web\n');
    // From the other service, by the service name only (its network alias).
    const fromClient = hutch(
      ['exec', client, 'sh', '-c', "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 web 8080"],
      box,
    );
    expect(fromClient.stdout, fromClient.stderr).toContain('hello-from-web');
    expect(ok(['exec', client, 'cat', '/etc/hosts'], box)).toMatch(new RegExp(`\\s${web} web\\n`));

    const down = compose('down', '-v', '-t', '1');
    expect(down.status, `${down.stdout}\n${down.stderr}`).toBe(0);
    expect(down.stdout).not.toMatch(/exit code: [1-9]/);
    expect(ok(['ps', '-a', '--format', 'json'], box)).not.toContain(PROJECT);
    expect(ok(['volume', 'ls', '-q'], box)).toBe('');
    // Nothing of the network runs once its last member left; compose leaves its definition.
    expect(await helpersGone(box.runtime)).toEqual([]);
    expect(ok(['network', 'rm', `${PROJECT}_default`], box)).toBe(`${PROJECT}_default\n`);
    expect(hutch(['network', 'exists', `${PROJECT}_default`], box).status).toBe(1);
  });
});
