/** `hutch system check [--repair]`: the store's consistency, as findings. */
import { checkStore, type CheckReport } from '../image/store/check.js';
import { openUserStore } from '../image/store/store.js';

/** `hutch system check [--repair]`: the findings, and whether the store is consistent at the end. */
export async function checkImages(
  options: { repair?: boolean },
  env: NodeJS.ProcessEnv = process.env,
): Promise<CheckReport> {
  // Leftovers of dead commands are reported (and removed with --repair), not quietly reaped first.
  const { store, identity } = await openUserStore(env, { reap: false });
  return checkStore(store, { repair: options.repair === true, userXattrs: !identity.root });
}
