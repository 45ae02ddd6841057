/**
 * The network of a build step: a short-lived container with a pid and a
 * runtime directory but no entry in the container store. test/fixtures/
 * net-runner.ts makes, inside the session, the calls the build executor makes
 * (context from ids and directories, etcContents, attachWaitingContainer,
 * detachNetwork) around a process in a network namespace of its own, which
 * then fetches from a server the test runs on the host's loopback, as a `RUN
 * wget` would.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hutch, hutchRun, sandbox, type Sandbox } from '../helpers/hutch.js';
import { loopbackServer, networkHelpers } from '../helpers/network.js';
import { requires } from '../helpers/requires.js';
import { runnerBundle } from '../helpers/bundle.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

describe.skipIf(need.skip)('the network of a build step', () => {
  let box: Sandbox;
  let work: string;
  let bundle: string;
  let host: Awaited<ReturnType<typeof loopbackServer>>;

  beforeAll(async () => {
    box = sandbox();
    work = mkdtempSync(join(tmpdir(), 'hutch-net-build-'));
    bundle = runnerBundle('net-runner');
    host = await loopbackServer('from the host loopback\n');
  });
  afterAll(() => {
    host?.server.close();
    box?.dispose(work);
  });

  const runner = async (command: string, input: object) => {
    const result = await hutchRun(['unshare', 'node', bundle, command, JSON.stringify(input)], box);
    if (result.status !== 0) throw new Error(`net-runner ${command} failed (${result.status}): ${result.stderr}`);
    return JSON.parse(result.stdout) as Record<string, unknown>;
  };

  it('attaches slirp4netns to a step with ids and directories only; RUN wget reaches the host loopback when allowed', async () => {
    const flags = { publish: [], publishAll: false, dns: [], dnsSearch: [], addHost: [] };
    const request = await runner('parse', { flags: { ...flags, network: 'slirp4netns:allow_host_loopback=true' } });
    // The stand-in process shares the host's mount namespace (its /etc/hosts): it asks by address.
    const result = await runner('ephemeral', {
      request,
      id: 'b'.repeat(64),
      dir: mkdtempSync(join(work, 'step-')),
      storage: join(box.env.XDG_DATA_HOME as string, 'hutch'),
      runtime: box.runtime,
      command: ['busybox', 'wget', '-q', '-O-', `http://10.0.2.2:${host.port}/`],
    });
    expect(result.namespace).toEqual({ mode: 'new' });
    expect(result.resolvConf).toBe('nameserver 10.0.2.3\n');
    expect(result.hosts).toContain('10.0.2.100\tbbbbbbbbbbbb\n');
    expect(result.hosts).toContain('10.0.2.2\thost.containers.internal host.docker.internal\n');
    expect(result.output).toBe('from the host loopback\n');
    expect(result.helperGone).toBe(true);
    expect(networkHelpers(box.runtime)).toEqual([]);
  });

  it('without allow_host_loopback the step cannot reach the host loopback', async () => {
    const flags = { publish: [], publishAll: false, dns: [], dnsSearch: [], addHost: [] };
    const request = await runner('parse', { flags: { ...flags, network: 'slirp4netns' } });
    const result = await runner('ephemeral', {
      request,
      id: 'd'.repeat(64),
      dir: mkdtempSync(join(work, 'step-')),
      storage: join(box.env.XDG_DATA_HOME as string, 'hutch'),
      runtime: box.runtime,
      command: ['busybox', 'wget', '-q', '-O-', `http://10.0.2.2:${host.port}/`],
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/can't connect to remote host \(10\.0\.2\.2\)/);
    expect(hutch(['ps', '-a', '-q'], box).stdout).toBe('');
  });
});
