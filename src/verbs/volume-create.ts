/** `hutch volume create [NAME]`: a volume (a random name when none is given); returns what inspect shows of it. */
import { HutchError } from '../errors.js';
import { createVolume, type VolumeInspect } from '../run/volumes.js';
import { openVolumes } from './volume-users.js';

export interface VolumeCreateOptions {
  name?: string;
  /** Only `local`. */
  driver: string;
  labels: Record<string, string>;
  /** Driver options (-o): none supported yet. */
  options: Record<string, string>;
  /** --ignore: the existing volume, instead of failing. */
  ignoreIfExists: boolean;
}

export async function volumeCreate(options: VolumeCreateOptions): Promise<VolumeInspect> {
  if (options.driver !== 'local') {
    throw new HutchError(`volume driver ${JSON.stringify(options.driver)} is not supported`, { hint: 'use local' });
  }
  const { storage } = await openVolumes();
  return createVolume(storage, {
    ...(options.name === undefined ? {} : { name: options.name }),
    labels: options.labels,
    options: options.options,
    ignoreIfExists: options.ignoreIfExists,
  });
}
