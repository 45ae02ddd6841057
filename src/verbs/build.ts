/**
 * `hutch build` (`image build`): a Containerfile and its context to an image
 * (src/build/executor.ts). Step lines and RUN output go to the streams the
 * caller puts in the options; returns the image id.
 */
import type { Digest } from '../image/digest.js';
import { buildImage } from '../build/executor.js';
import type { BuildOptions } from '../build/options.js';

export type { BuildOptions };

export async function build(options: BuildOptions, env: NodeJS.ProcessEnv = process.env): Promise<Digest> {
  return buildImage(options, env);
}
