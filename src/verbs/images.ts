/**
 * `hutch images` (`image ls`): the images of the store as podman's
 * ImageSummary (its parent, whether it is dangling or intermediate, how many
 * containers use it), filtered by podman's --filter keys; src/cli sorts,
 * splits into rows and renders them.
 */
import { HutchError } from '../errors.js';
import { compileImageFilters, type FilterSubject } from '../image/filters.js';
import { lineage } from '../image/lineage.js';
import { openUserStore } from '../image/store/store.js';
import type { ResolvedImage } from '../image/store/resolve.js';
import { imageUsers, type ImageUsers } from '../run/container/users.js';

export interface ListOptions {
  /** podman's -a: intermediate images too (nameless images other images are built on). */
  all?: boolean;
  /** podman's --filter KEY=VALUE, each. */
  filters?: string[];
  /** `hutch images NAME`: a reference filter (podman's rule: not with --filter). */
  reference?: string;
  now?: Date;
}

/** One image as podman's `images` knows it (entities.ImageSummary). */
export interface ImageSummary extends FilterSubject {
  image: ResolvedImage;
  /** The image this one was built on, when it is in the store. */
  parent: ResolvedImage | undefined;
}

/** What `hutch images` found. */
export interface ImageList {
  images: ImageSummary[];
  /** Images whose content is missing or corrupt: not listed, and worth a warning (system check --repair). */
  damaged: number;
}

export async function listImages(options: ListOptions = {}, env: NodeJS.ProcessEnv = process.env): Promise<ImageList> {
  const filters = [...(options.filters ?? [])];
  if (options.reference !== undefined) {
    if (filters.length > 0) throw new HutchError('cannot specify an image and a filter(s)');
    filters.push(`reference=${options.reference}`);
  }
  // podman hides intermediate images unless --all, with a filter of its own.
  if (options.all !== true) filters.push('intermediate=false');
  const { store } = await openUserStore(env);
  const scanned = store.scan();
  const images = store.listImages(scanned);
  const matches = compileImageFilters(filters, {
    lookup: (nameOrId) => store.resolveImage(nameOrId),
    now: options.now ?? new Date(),
  });
  const summaries = summarize(images, await imageUsers(env));
  return { images: summaries.filter(matches), damaged: scanned.damaged.length };
}

/** What podman knows of each image besides its content: family, use. */
export function summarize(images: readonly ResolvedImage[], users: Pick<ImageUsers, 'usersOf'>): ImageSummary[] {
  const family = lineage(images);
  return images.map((image): ImageSummary => {
    const nameless = image.names.length === 0;
    const hasChildren = nameless && family.childrenOf(image).length > 0;
    return {
      image,
      parent: family.parentOf(image),
      dangling: nameless && !hasChildren,
      intermediate: hasChildren,
      containers: users.usersOf(image.id).length,
      readOnly: false,
    };
  });
}
