/**
 * WORKDIR: the directory is made (owned by the USER, as BuildKit makes it)
 * when missing, which commits a layer; an existing one only changes the config.
 */
import { lchownSync } from 'node:fs';
import { resolveWorkdir } from '../containerfile/resolve.js';
import { BuildfileError } from '../containerfile/parser.js';
import { nopCreatedBy } from '../history.js';
import { sha256 } from '../state.js';
import { StepWorkspace } from '../workspace.js';
import { messageOf } from '../../errors.js';
import { ensureInRoot, hostJoin, realRoot } from '../../fs/in-root.js';
import type { Resolved, StepContext } from './step.js';

/** The WORKDIR step: the config's WorkingDir, and the directory made when missing. */
export async function workdirStep(stage: StepContext, resolved: Resolved<'WORKDIR'>): Promise<void> {
  const { session } = stage;
  const path = resolveWorkdir(stage.state.runtime.WorkingDir ?? '/', resolved.path);
  stage.state.runtime.WorkingDir = path;
  const user = stage.state.runtime.User ?? '';
  const key = sha256(`${stage.state.chainKey}\nWORKDIR\n${path}\n${user}`);
  const createdBy = nopCreatedBy(`WORKDIR ${path}`);
  const hit = await stage.cached(key);
  if (hit !== undefined) return stage.finishStep(key, createdBy, hit.layer, hit);
  const owner = stage.user(resolved.node.position);
  const workspace = StepWorkspace.create(session.store, session.driver, session.rootless, stage.lowers);
  try {
    const root = await workspace.mount();
    let created: string[];
    try {
      created = ensureInRoot(root, path, 'directory', { what: `WORKDIR ${path}` }).created;
    } catch (error) {
      throw new BuildfileError(stage.file, resolved.node.position, messageOf(error));
    }
    const real = realRoot(root);
    for (const dir of created) lchownSync(hostJoin(real, dir), owner.uid, owner.gid);
    await workspace.unmount();
    if (created.length === 0) return stage.finishStep(key, createdBy, undefined, undefined);
    const layer = await workspace.commit(session.store, session.options.timestamp);
    stage.finishStep(key, createdBy, { diffId: layer.diffId, blob: layer.blob }, undefined);
  } finally {
    await workspace.dispose();
  }
}
