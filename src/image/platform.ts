import { HutchError } from '../errors.js';
import type { Descriptor, Index, Platform } from './oci.js';
import { hostPlatform } from './oci.js';

/** Parses --platform: os/arch[/variant]. */
export function parsePlatform(text: string | undefined): Platform {
  if (text === undefined || text === '') return hostPlatform();
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw new HutchError(`invalid --platform ${JSON.stringify(text)}`, {
      hint: 'write OS/ARCH[/VARIANT], e.g. linux/arm64/v8',
    });
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

export function formatPlatform(p: Platform | undefined): string {
  if (p === undefined) return 'unknown';
  return [p.os, p.architecture, p.variant].filter((x) => x !== undefined && x !== '').join('/');
}

// arm64 images often say v8 or nothing; both mean the same machine.
function variantMatches(wanted: string | undefined, offered: string | undefined): boolean {
  if (wanted === undefined || wanted === '') return true;
  if (wanted === offered) return true;
  return wanted === 'v8' && (offered === undefined || offered === '');
}

/** The manifest of an index for the platform; a clear error listing what there is otherwise. */
export function selectManifest(index: Index, wanted: Platform, what: string): Descriptor {
  const candidates = index.manifests.filter(
    (m) =>
      m.platform !== undefined &&
      m.platform.os === wanted.os &&
      m.platform.architecture === wanted.architecture &&
      variantMatches(wanted.variant, m.platform.variant),
  );
  // Attestation manifests (buildx) carry platform unknown/unknown and are never candidates.
  const chosen = candidates[0];
  if (chosen === undefined) {
    const offered = index.manifests
      .map((m) => formatPlatform(m.platform))
      .filter((p) => p !== 'unknown/unknown')
      .join(', ');
    throw new HutchError(`${what} has no image for ${formatPlatform(wanted)} (it has: ${offered || 'none'})`, {
      hint: 'choose one of them with --platform',
    });
  }
  return chosen;
}
