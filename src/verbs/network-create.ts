/** `hutch network create [NAME]`: a bridge network (a name is chosen when none is given); returns its name. */
import { HutchError } from '../errors.js';
import { openRuntime } from '../run/container/lifecycle.js';
import { createNetwork } from '../run/network/networks.js';

export interface NetworkCreateOptions {
  name?: string;
  subnet?: string;
  internal: boolean;
  options: Record<string, string>;
  labels: Record<string, string>;
  ignore: boolean;
  driver: string;
}

export async function networkCreate(flags: NetworkCreateOptions): Promise<string> {
  if (flags.driver !== 'bridge') {
    throw new HutchError(`unsupported network driver ${JSON.stringify(flags.driver)}`, { hint: 'use bridge' });
  }
  const rt = await openRuntime();
  const config = await createNetwork(rt.paths.storage, {
    ...(flags.name !== undefined ? { name: flags.name } : {}),
    ...(flags.subnet !== undefined ? { subnet: flags.subnet } : {}),
    internal: flags.internal,
    options: flags.options,
    labels: flags.labels,
    ignoreIfExists: flags.ignore,
  });
  return config.name;
}
