/** Container records as the store keeps them (config.json and state.json), for pure tests of what reads them. */
import {
  createdState,
  type Container,
  type ContainerOptions,
  type ContainerState,
} from '../../src/run/container/store.js';

export interface RecordOverrides {
  id?: string;
  name?: string;
  created?: string;
  image?: string;
  imageId?: string;
  options?: Partial<ContainerOptions>;
  state?: Partial<ContainerState>;
  imageConfig?: Container['config']['imageConfig'];
}

/** A container record with hutch's defaults: created, no options, image `busybox`. */
export function containerRecord(overrides: RecordOverrides = {}): Container {
  const options: ContainerOptions = {
    command: undefined,
    entrypoint: undefined,
    env: [],
    user: undefined,
    groupAdd: [],
    workdir: undefined,
    hostname: undefined,
    mounts: [],
    createdVolumes: [],
    readOnly: false,
    init: false,
    capAdd: [],
    capDrop: [],
    privileged: false,
    securityOpt: [],
    userns: undefined,
    network: 'slirp4netns',
    tty: false,
    interactive: false,
    autoRemove: false,
    stopSignal: undefined,
    stopTimeout: undefined,
    labels: {},
    ...overrides.options,
  };
  const state: ContainerState = { ...createdState(), ...overrides.state };
  return {
    config: {
      id: overrides.id ?? 'a'.repeat(64),
      name: overrides.name ?? 'c',
      created: overrides.created ?? '2026-11-25T13:00:00.000Z',
      image: {
        id: `sha256:${overrides.imageId ?? 'b'.repeat(64)}`,
        name: overrides.image ?? 'docker.io/library/busybox:latest',
        manifest: `sha256:${'c'.repeat(64)}`,
      },
      imageConfig: overrides.imageConfig ?? { Cmd: ['sh'] },
      options,
      rootfsDriver: 'overlay',
    },
    state,
    dir: '/nonexistent',
    runtimeDir: '/nonexistent',
  };
}
