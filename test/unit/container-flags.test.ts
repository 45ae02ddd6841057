/**
 * run's and create's flags as podman 4.3 spells them, old names included
 * (pflag's aliases in podman: --net, --dns-opt, --healthcheck-*), into the
 * typed flags create.ts checks.
 */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { containerFlags, runOnlyFlags, toRunFlags, type ContainerFlagValues } from '../../src/cli/container-flags.js';
import type { RunFlags } from '../../src/run/container/create.js';

function parseRun(args: string[]): RunFlags {
  let flags: RunFlags | undefined;
  const command = runOnlyFlags(containerFlags(new Command('run')))
    .argument('<image>')
    .argument('[command...]')
    .option('-d, --detach')
    .passThroughOptions()
    .helpOption('--help')
    .exitOverride()
    .configureOutput({ writeErr: () => undefined })
    .action((image: string, rest: string[], o: ContainerFlagValues) => {
      flags = toRunFlags(image, rest, o);
    });
  command.parse(args, { from: 'user' });
  if (flags === undefined) throw new Error('not parsed');
  return flags;
}

describe('run and create flags', () => {
  it('reads podman-compose 1.0.3’s command line', () => {
    const flags = parseRun([
      '--name=proj_web_1',
      '-d',
      '--label',
      'io.podman.compose.project=proj',
      '-v',
      'proj_data:/www',
      '--net',
      'proj_default',
      '--network-alias',
      'web',
      '-p',
      '127.0.0.1:18080:8080',
      '--healthcheck-command',
      "/bin/sh -c 'nc -z 127.0.0.1 8080'",
      '--healthcheck-interval',
      '1s',
      '--healthcheck-timeout',
      '3s',
      '--healthcheck-retries',
      '5',
      '--healthcheck-start-period',
      '2s',
      '--restart',
      'always',
      'localhost/busybox',
      'sh',
      '-c',
      'httpd -f',
    ]);
    expect(flags).toMatchObject({
      image: 'localhost/busybox',
      command: ['sh', '-c', 'httpd -f'],
      name: 'proj_web_1',
      detach: true,
      volume: ['proj_data:/www'],
      restart: 'always',
      network: { network: 'proj_default', aliases: ['web'], publish: ['127.0.0.1:18080:8080'] },
      health: {
        cmd: "/bin/sh -c 'nc -z 127.0.0.1 8080'",
        interval: '1s',
        timeout: '3s',
        retries: '5',
        startPeriod: '2s',
        disabled: false,
      },
    });
  });

  it('joins --net and --network into one list, and --dns-opt and --dns-option in command-line order', () => {
    const flags = parseRun([
      '--net',
      'a',
      '--network',
      'b',
      '--dns-opt',
      'ndots:3',
      '--dns-option',
      'rotate',
      '--dns-opt',
      'timeout:1',
      'img',
    ]);
    expect(flags.network.network).toBe('a,b');
    expect(flags.network.dnsOptions).toEqual(['ndots:3', 'rotate', 'timeout:1']);
  });

  it('reads the rest of podman 4.3.1’s run flags', () => {
    const flags = parseRun([
      '-a',
      'stdout',
      '--attach=STDERR',
      '--replace',
      '--env-host',
      '--cidfile',
      '/tmp/cid',
      '--tz',
      'Europe/Paris',
      '--timeout',
      '10',
      '--preserve-fds',
      '2',
      '--volumes-from',
      'src:ro',
      '--no-healthcheck',
      '--health-on-failure',
      'kill',
      'img',
    ]);
    expect(flags).toMatchObject({
      attach: ['stdout', 'stderr'],
      replace: true,
      envHost: true,
      cidfile: '/tmp/cid',
      tz: 'Europe/Paris',
      timeout: 10,
      preserveFds: 2,
      volumesFrom: ['src:ro'],
      health: { disabled: true, onFailure: 'kill' },
    });
    expect(parseRun(['img']).health.disabled).toBe(false);
  });

  it('refuses a stream -a does not know, in podman’s words', () => {
    expect(() => parseRun(['-a', 'bogus', 'img'])).toThrow(
      'invalid stream "bogus" for --attach - must be one of stdin, stdout, or stderr: invalid argument',
    );
  });
});
