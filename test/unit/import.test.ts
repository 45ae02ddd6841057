import { describe, expect, it } from 'vitest';
import { applyChange } from '../../src/image/import.js';
import type { ContainerConfig } from '../../src/image/oci.js';

describe('import --change', () => {
  const apply = (...changes: string[]) => {
    const config: ContainerConfig = {};
    for (const c of changes) applyChange(config, c);
    return config;
  };

  it('applies CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL, VOLUME, STOPSIGNAL', () => {
    expect(
      apply(
        'CMD ["sh", "-c", "echo hi"]',
        'ENTRYPOINT /bin/run --fast',
        'ENV PATH=/bin A="b c"',
        'ENV OLD style value',
        'WORKDIR /srv',
        'USER 1000:1000',
        'EXPOSE 80 53/udp',
        'LABEL org.example.v="1 2" x=y',
        'VOLUME ["/data"]',
        'STOPSIGNAL SIGTERM',
      ),
    ).toEqual({
      Cmd: ['sh', '-c', 'echo hi'],
      Entrypoint: ['/bin/sh', '-c', '/bin/run --fast'],
      Env: ['PATH=/bin', 'A=b c', 'OLD=style value'],
      WorkingDir: '/srv',
      User: '1000:1000',
      ExposedPorts: { '80/tcp': {}, '53/udp': {} },
      Labels: { 'org.example.v': '1 2', x: 'y' },
      Volumes: { '/data': {} },
      StopSignal: 'SIGTERM',
    });
  });

  it('a later ENV replaces an earlier one', () => {
    expect(apply('ENV A=1', 'ENV A=2').Env).toEqual(['A=2']);
  });

  it('refuses what it cannot apply, with one line', () => {
    expect(() => apply('RUN apt-get update')).toThrow(
      'invalid --change "RUN apt-get update": RUN cannot be applied to an imported image',
    );
    expect(() => apply('CMD')).toThrow('invalid --change "CMD": expected an instruction and its arguments');
    expect(() => apply('EXPOSE eighty')).toThrow(
      'invalid --change "EXPOSE eighty": "eighty" is not a port (PORT[/tcp|udp|sctp])',
    );
    expect(() => apply('ENV =x')).toThrow('invalid --change "ENV =x": "=x" is not KEY=VALUE');
  });
});
