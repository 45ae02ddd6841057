/** `hutch network create [NAME]`: a bridge network (a name is chosen when none is given); returns its name. */
import { HutchError } from '../errors.js';
import { openRuntime } from '../run/container/lifecycle.js';
import { createNetwork, type CreateNetworkOptions } from '../run/network/networks.js';

/** The library's options, with podman's names for what the command line gives: --ignore and --driver. */
export interface NetworkCreateOptions extends Omit<CreateNetworkOptions, 'ignoreIfExists'> {
  ignore: boolean;
  driver: string;
}

export async function networkCreate(flags: NetworkCreateOptions): Promise<string> {
  if (flags.driver !== 'bridge') {
    throw new HutchError(`unsupported network driver ${JSON.stringify(flags.driver)}`, { hint: 'use bridge' });
  }
  const rt = await openRuntime();
  const { ignore, driver: _driver, ...options } = flags;
  const config = await createNetwork(rt.paths.storage, { ...options, ignoreIfExists: ignore });
  return config.name;
}
