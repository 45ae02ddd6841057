/** `hutch volume ls [--filter K=V]…`: the volumes, sorted by name, as inspect shows them. */
import { listVolumes, type VolumeInspect } from '../run/volumes.js';
import { openVolumes } from './volume-users.js';

export async function volumeList(filters: readonly string[] = []): Promise<VolumeInspect[]> {
  const { storage, usedBy } = await openVolumes();
  return listVolumes(storage, { filters, usedBy });
}
