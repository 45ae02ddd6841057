/**
 * `hutch artifact push|pull|referrers`: OCI artifacts (any files) and the
 * manifests that refer to an image (src/image/artifact.ts). Each returns
 * what the CLI prints: a digest, the files written, the referrers.
 */
export {
  listReferrers,
  pullArtifact,
  pushArtifact,
  type ArtifactPullOptions,
  type ArtifactPushOptions,
  type ReferrersOptions,
} from '../image/artifact.js';
