/**
 * An image as podman's `image inspect` shows it (container inspect embeds it
 * too). The verbs are in src/verbs; tables, sizes, ages and --format
 * templates are src/cli/format's.
 */
import { hexOf } from './digest.js';
import { MediaType } from './media.js';
import { repoDigests, type ResolvedImage } from './store/resolve.js';
import { tagOf } from './store/refs.js';

// ---------------------------------------------------------------------------
// inspect

export function inspectJson(image: ResolvedImage): Record<string, unknown> {
  const config = image.config as ResolvedImage['config'] & { comment?: string; docker_version?: string };
  const history = config.history ?? [];
  const tagged = image.names.filter((n) => tagOf(n) !== undefined);
  const document: Record<string, unknown> = {
    Id: hexOf(image.id),
    Digest: image.manifestDescriptor.digest,
    RepoTags: tagged,
    RepoDigests: repoDigests(image),
    Parent: '',
    Comment: config.comment ?? history.at(-1)?.comment ?? '',
    Created: config.created ?? '',
    Config: config.config ?? {},
    Version: config.docker_version ?? '',
    Author: config.author ?? '',
    Architecture: config.architecture,
    Os: config.os,
    ...(config.variant === undefined ? {} : { Variant: config.variant }),
    Size: image.size,
    VirtualSize: image.size,
    RootFS: { Type: 'layers', Layers: config.rootfs.diff_ids },
    Labels: config.config?.Labels ?? null,
    Annotations: image.manifest.annotations ?? {},
    ManifestType: image.manifest.mediaType ?? image.manifestDescriptor.mediaType ?? MediaType.ociManifest,
    User: config.config?.User ?? '',
    History: history,
    NamesHistory: image.namesHistory,
  };
  // podman's struct field is ID (its JSON key Id): templates say {{.ID}}. Not enumerable: not in the JSON.
  Object.defineProperty(document, 'ID', { value: document.Id, enumerable: false });
  return document;
}
