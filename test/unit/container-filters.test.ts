import { describe, expect, it } from 'vitest';
import { HutchError } from '../../src/errors.js';
import {
  containerMatcher,
  containerState,
  parseContainerFilters,
  type FilterContext,
} from '../../src/run/container/filters.js';
import { NoSuchContainerError, type Container } from '../../src/run/container/store.js';
import { containerRecord } from '../helpers/container-records.js';

const running = containerRecord({
  id: `0c4c${'1'.repeat(60)}`,
  name: 'web',
  created: '2026-11-25T13:00:00.000Z',
  options: {
    labels: { a: 'b', tier: 'front' },
    mounts: [
      {
        type: 'bind',
        source: '/store/volumes/data/_data',
        destination: '/data',
        readonly: false,
        recursive: true,
        options: [],
      },
      { type: 'bind', source: '/srv/www', destination: '/www', readonly: true, recursive: true, options: [] },
    ],
    networkRequest: {
      mode: 'network',
      target: 'backend',
      options: {},
      pastaArgs: [],
      publish: [],
      publishAll: false,
      dns: [],
      dnsSearch: [],
      addHost: [],
    },
  },
  state: { status: 'running', pid: 4242, startedAt: '2026-11-25T13:00:01.000Z' },
});
const created = containerRecord({ id: `576b${'2'.repeat(60)}`, name: 'cr', created: '2026-11-25T13:00:02.000Z' });
const failed = containerRecord({
  id: `1cfe${'3'.repeat(60)}`,
  name: 'failed',
  created: '2026-11-25T13:00:03.000Z',
  image: 'localhost/app:1',
  imageId: 'e'.repeat(64),
  state: { status: 'exited', exitCode: 1, finishedAt: '2026-11-25T13:00:04.000Z' },
});
const joined = containerRecord({
  id: `d05f${'4'.repeat(60)}`,
  name: 'sidecar',
  created: '2026-11-25T13:00:05.000Z',
  options: {
    networkRequest: {
      mode: 'container',
      target: 'web',
      options: {},
      pastaArgs: [],
      publish: [],
      publishAll: false,
      dns: [],
      dnsSearch: [],
      addHost: [],
    },
  },
});
const all = [running, created, failed, joined];

const ctx: FilterContext = {
  find(nameOrId) {
    const found = all.find((c) => c.config.name === nameOrId || c.config.id.startsWith(nameOrId));
    if (found === undefined) throw new NoSuchContainerError(nameOrId);
    return found;
  },
  networkName: (nameOrId) => (nameOrId === 'backend' || nameOrId === 'f00d' ? 'backend' : undefined),
  volumeMountpoint: (name) => `/store/volumes/${name}/_data`,
  now: Date.parse('2026-11-25T14:00:00Z'),
};

function names(...filters: string[]): string[] {
  const matches = containerMatcher(parseContainerFilters(filters), ctx);
  return all.filter(matches).map((c: Container) => c.config.name);
}

describe('parseContainerFilters', () => {
  it('takes KEY=VALUE, several per flag separated by commas, as podman’s StringSlice flag', () => {
    const filters = parseContainerFilters(['name=a,name=b', 'status=exited']);
    expect([...filters]).toEqual([
      ['name', ['a', 'b']],
      ['status', ['exited']],
    ]);
  });

  it('refuses what podman refuses, in its words, before any container is looked at', () => {
    const refused = (value: string) => {
      try {
        parseContainerFilters([value]);
      } catch (error) {
        expect(error).toBeInstanceOf(HutchError);
        return (error as Error).message;
      }
      throw new Error(`${value} was accepted`);
    };
    expect(refused('foo=bar')).toBe('foo is an invalid filter');
    expect(refused('label!=a')).toBe('label! is an invalid filter');
    expect(refused('status=bogus')).toBe('unknown container state: bogus: invalid argument');
    expect(refused('status=stopping')).toBe('unknown container state: stopping: invalid argument');
    expect(refused('status=created,exited')).toBe('invalid filter "exited"');
    expect(refused('exited=x')).toMatch(/^exited code out of range/);
  });
});

describe('containerMatcher', () => {
  it('matches id and name as unanchored regular expressions', () => {
    expect(names('name=e')).toEqual(['web', 'failed', 'sidecar']);
    expect(names('name=^w')).toEqual(['web']);
    expect(names('name=[')).toEqual([]);
    expect(names('id=576b')).toEqual(['cr']);
    expect(names('id=^0c4c', 'id=^1cfe')).toEqual(['web', 'failed']);
  });

  it('ORs the values of one key and ANDs the keys; labels must all match', () => {
    expect(names('name=web', 'name=cr')).toEqual(['web', 'cr']);
    expect(names('name=web', 'id=576b')).toEqual([]);
    expect(names('label=a')).toEqual(['web']);
    expect(names('label=a=b', 'label=tier=front')).toEqual(['web']);
    expect(names('label=a', 'label=nope')).toEqual([]);
    expect(names('label=a=c')).toEqual([]);
  });

  it('takes states as podman names them: stopped is exited; exited=CODE only for exited ones', () => {
    expect(names('status=running')).toEqual(['web']);
    expect(names('status=stopped')).toEqual(['failed']);
    expect(names('status=created', 'status=exited')).toEqual(['cr', 'failed', 'sidecar']);
    expect(names('exited=1')).toEqual(['failed']);
    expect(names('exited=0')).toEqual([]);
    expect(containerState(failed)).toBe('exited');
    expect(containerState({ ...running, state: { ...running.state, stopping: true } })).toBe('stopping');
  });

  it('matches an ancestor by image id, by the name it was created from, or that name without :latest', () => {
    expect(names(`ancestor=${'e'.repeat(64)}`)).toEqual(['failed']);
    expect(names('ancestor=localhost/app:1')).toEqual(['failed']);
    expect(names('ancestor=docker.io/library/busybox')).toEqual(['web', 'cr', 'sidecar']);
    expect(names('ancestor=localhost/app')).toEqual([]);
    expect(names('ancestor=eeee')).toEqual([]);
  });

  it('orders by creation for before and since, and until takes a time or a duration before now', () => {
    expect(names('before=failed')).toEqual(['web', 'cr']);
    expect(names('since=cr')).toEqual(['failed', 'sidecar']);
    expect(() => names('since=nosuch')).toThrow('no container with name or ID "nosuch" found: no such container');
    expect(names('until=2026-11-25T13:00:02.500Z')).toEqual(['web', 'cr']);
    expect(names('until=30m')).toEqual(['web', 'cr', 'failed', 'sidecar']);
    expect(names('until=2h')).toEqual([]);
    expect(() => names('until=garbage')).toThrow('failed to parse value as time or duration: "garbage"');
  });

  it('matches volumes by name or bind source, with an optional destination', () => {
    expect(names('volume=data')).toEqual(['web']);
    expect(names('volume=data:/data')).toEqual(['web']);
    expect(names('volume=data:/elsewhere')).toEqual([]);
    expect(names('volume=/srv/www')).toEqual(['web']);
  });

  it('matches networks by name or id, and container:NAME for the containers that joined it', () => {
    expect(names('network=backend')).toEqual(['web']);
    expect(names('network=f00d')).toEqual(['web']);
    expect(names('network=nosuch')).toEqual([]);
    expect(names('network=container:web')).toEqual(['sidecar']);
    expect(names(`network=container:${running.config.id.slice(0, 12)}`)).toEqual(['sidecar']);
  });

  it('finds no health status and no pod: hutch runs no healthchecks and has no pods', () => {
    expect(names('health=healthy')).toEqual([]);
    expect(names('pod=x')).toEqual([]);
  });
});
