/**
 * podman's archive transports where an image name goes (`pull`, `run`,
 * `create`, `FROM`): `docker-archive:PATH[:REF]` and `oci-archive:PATH[:REF]`.
 * The archive is loaded into the store (load.ts, every image of it, under the
 * names it carries); the image meant is REF when given, else the archive's
 * first.
 */
import { HutchError } from '../../errors.js';
import type { Digest } from '../digest.js';
import { openUserStore } from '../store/store.js';
import { loadImages } from './load.js';

const TRANSPORT = /^(docker-archive|oci-archive):(.*)$/;

export function isArchiveReference(reference: string): boolean {
  return TRANSPORT.test(reference);
}

/** The file and the optional image inside it (`PATH[:REF]`; the path has no colon, as podman reads it). */
export function parseArchiveReference(reference: string): { transport: string; path: string; ref?: string } {
  const match = TRANSPORT.exec(reference);
  if (match === null) throw new HutchError(`${reference}: not an archive reference`);
  const [, transport, rest] = match as unknown as [string, string, string];
  const colon = rest.indexOf(':');
  const path = colon < 0 ? rest : rest.slice(0, colon);
  if (path === '') {
    throw new HutchError(`invalid reference ${JSON.stringify(reference)}: no file`, {
      hint: `write ${transport}:PATH[:IMAGE]`,
    });
  }
  return colon < 0 ? { transport, path } : { transport, path, ref: rest.slice(colon + 1) };
}

/** Loads the archive; the id and a name of the image meant. */
export async function pullArchive(
  reference: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ id: Digest; name: string }> {
  const { path, ref } = parseArchiveReference(reference);
  const loaded = await loadImages({ file: path }, env);
  const wanted = ref ?? loaded[0];
  if (wanted === undefined) throw new HutchError(`${reference}: the archive holds no image`);
  const { store } = await openUserStore(env);
  const image = store.resolveImage(wanted);
  return { id: image.id, name: image.names[0] ?? reference };
}
