/**
 * `hutch pull`: an image from a registry into the store (src/image/pull.ts).
 * The caller makes the progress (it owns the terminal) and prints the id.
 */
import { pullImage, type PullOptions, type PullResult, type RegistryAccess } from '../image/pull.js';

export type { PullOptions, PullResult, RegistryAccess };

export async function pull(options: PullOptions, env: NodeJS.ProcessEnv = process.env): Promise<PullResult> {
  return pullImage(options, env);
}
