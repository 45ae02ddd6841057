/**
 * `hutch push`: an image of the store to a registry (src/image/push.ts), and
 * its manifest digest to --digestfile. The caller makes the progress.
 */
import { pushImage, writeDigestFile, type PushOptions, type PushResult } from '../image/push.js';

export type { PushOptions, PushResult };

export async function push(
  options: PushOptions & { digestFile?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): Promise<PushResult> {
  const result = await pushImage(options, env);
  if (options.digestFile !== undefined) writeDigestFile(options.digestFile, result.digest);
  return result;
}
