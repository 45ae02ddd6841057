/** `hutch network exists NAME`: whether a network of that name or id is there (no session needed). */
import { HutchError } from '../errors.js';
import { resolvePaths } from '../host/dirs.js';
import { currentIdentity } from '../host/identity.js';
import { findNetwork } from '../run/network/networks.js';

export function networkExists(nameOrId: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const paths = resolvePaths(env, currentIdentity(env).uid);
  try {
    findNetwork(paths.storage, nameOrId);
    return true;
  } catch (error) {
    if (error instanceof HutchError && /network not found/.test(error.message)) return false;
    throw error;
  }
}
