/**
 * RUN: the command (heredocs included) in a short-lived container on overlay
 * (lowers = the stage's layers, upper = the step's own), with the step's
 * environment, USER, WORKDIR, network and --mount mounts (run-mounts.ts);
 * the upper directory becomes the step's layer. The cache key covers the
 * resolved instruction, environment, user, directory, shell, network and what
 * bind mounts read; secrets stay out of it (BuildKit's rule).
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SHELL } from '../containerfile/instructions.js';
import { BuildfileError } from '../containerfile/parser.js';
import { runArgs } from '../containerfile/resolve.js';
import { runCreatedBy } from '../history.js';
import { sha256 } from '../state.js';
import { layerPaths, MOUNT_POINTS, StepWorkspace } from '../workspace.js';
import { HutchError, messageOf } from '../../errors.js';
import { runEphemeral } from '../../run/container/ephemeral.js';
import { DEFAULT_PATH } from '../../run/container/spec-builder.js';
import type { MountSpec } from '../../run/container/spec.js';
import type { NetworkRequest } from '../../run/network/index.js';
import { rlimitSpecs } from '../../run/rlimits.js';
import { mountPointsOf, prepareRunMounts, type PreparedMounts } from './run-mounts.js';
import { describe, interrupted, type Resolved, type StepContext } from './step.js';

/** RUN --network=none|host, else the build's network. */
function runNetwork(stage: StepContext, resolved: Resolved<'RUN'>): NetworkRequest {
  const wanted = resolved.network;
  if (wanted === undefined || wanted === 'default') return stage.session.network;
  return { ...stage.session.network, mode: wanted, options: {}, pastaArgs: [] };
}

/**
 * What the build's flags change in what a RUN may do (capabilities, seccomp,
 * no_new_privs, rlimits): a step run otherwise may have made other files.
 * Nothing for the defaults, so their keys stay what they were.
 */
function privilegesKey(session: StepContext['session']): string[] {
  const { capAdd, capDrop, security } = session.options;
  const parts = {
    ...(capAdd.length > 0 ? { capAdd } : {}),
    ...(capDrop.length > 0 ? { capDrop } : {}),
    ...(security.seccomp !== 'default' ? { seccomp: security.seccomp } : {}),
    ...(security.noNewPrivileges !== undefined ? { noNewPrivileges: security.noNewPrivileges } : {}),
    ...(session.ulimits.length > 0 ? { ulimits: session.ulimits } : {}),
  };
  return Object.keys(parts).length === 0 ? [] : [`privileges ${JSON.stringify(parts)}`];
}

/** The RUN step: its mounts prepared, its cache key, then the command run and its changes committed (or the cached layer). */
export async function runStep(stage: StepContext, resolved: Resolved<'RUN'>): Promise<void> {
  const { session } = stage;
  const position = resolved.node.position;
  if (resolved.security === 'insecure') {
    throw new BuildfileError(
      stage.file,
      position,
      'RUN --security=insecure is not supported: build steps never get extra privileges',
    );
  }
  const runtime = stage.state.runtime;
  const shell = runtime.Shell ?? DEFAULT_SHELL;
  const { args, file: script } = runArgs(resolved, shell);
  const user = stage.user(position);
  const env = stage.scope.runEnv();
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(`PATH=${DEFAULT_PATH}`);
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home}`);
  const cwd = runtime.WorkingDir || '/';
  const network = runNetwork(stage, resolved);
  const createdBy = runCreatedBy(
    args,
    stage.scope.declaredArgs().filter(([k]) => !stage.scope.env().some((e) => e.startsWith(`${k}=`))),
  );
  const workspace = StepWorkspace.create(session.store, session.driver, session.rootless, stage.lowers);
  const trees: StepWorkspace[] = [];
  let prepared: PreparedMounts | undefined;
  try {
    prepared = await prepareRunMounts(resolved.mounts, {
      file: stage.file,
      position,
      context: session.context,
      storage: session.paths.storage,
      secrets: session.secrets,
      scratch: workspace.dir,
      tree: async (from) => {
        const found = await stage.fromSource(from, position);
        const tree = StepWorkspace.create(
          session.store,
          session.driver,
          session.rootless,
          layerPaths(session.store, found.layers),
        );
        trees.push(tree);
        return { root: await tree.mount({ readonly: true }), key: found.key };
      },
    });
    // Secrets are not part of the key (BuildKit's rule); what bind mounts read is.
    const key = sha256(
      [
        stage.state.chainKey,
        'RUN',
        describe(resolved),
        JSON.stringify(env),
        runtime.User ?? '',
        cwd,
        JSON.stringify(shell),
        network.mode,
        ...prepared.keyParts,
        // -v mounts change what a step may read, not what it is: their places are in the key, not their content.
        ...session.volumes.map((m) => `volume ${m.type === 'bind' ? m.source : ''}:${m.destination}`),
        ...privilegesKey(session),
      ].join('\n'),
    );
    const hit = await stage.cached(key);
    if (hit?.layer !== undefined) return stage.finishStep(key, createdBy, hit.layer, hit);
    const mounts: MountSpec[] = [...session.volumes, ...prepared.specs];
    if (script !== undefined) {
      const host = join(workspace.dir, 'script');
      writeFileSync(host, script.content, { mode: script.mode });
      mounts.push({
        type: 'bind',
        source: host,
        destination: script.path,
        readonly: true,
        recursive: false,
        options: [],
      });
    }
    let status: number;
    try {
      status = await runEphemeral({
        id: randomBytes(32).toString('hex'),
        driver: session.driver,
        layout: workspace.layout,
        rootless: session.rootless,
        runtimeRoot: session.runtimeRoot,
        hostname: 'hutch-build',
        args,
        env: [...env, ...prepared.env],
        cwd,
        uid: user.uid,
        gid: user.gid,
        // The primary group is in the supplementary list too, as Docker's and buildah's runtimes set it.
        additionalGids: [user.gid, ...user.additionalGids.filter((g) => g !== user.gid)],
        mounts,
        network,
        limits: session.options.limits,
        rlimits: rlimitSpecs(session.ulimits),
        capAdd: session.options.capAdd,
        capDrop: session.options.capDrop,
        security: session.options.security,
        paths: session.paths,
        stdout: session.output.runStdout,
        stderr: session.output.runStderr,
        signal: session.signal,
      });
    } catch (error) {
      throw new BuildfileError(stage.file, position, `while running runtime: ${messageOf(error)}`, {
        cause: error,
        ...(error instanceof HutchError
          ? { exitCode: error.exitCode, ...(error.hint === undefined ? {} : { hint: error.hint }) }
          : {}),
      });
    }
    if (session.signal.aborted) throw interrupted();
    if (status !== 0) {
      // buildah's words; the step's status becomes the build's exit status, as with podman.
      throw new BuildfileError(stage.file, position, `while running runtime: exit status ${status}`, {
        exitCode: status,
      });
    }
    const mountPoints = [...MOUNT_POINTS, ...mountPointsOf(mounts)];
    workspace.removeMountPoints(mountPoints);
    const layer = await workspace.commit(session.store, session.options.timestamp, mountPoints);
    stage.finishStep(key, createdBy, { diffId: layer.diffId, blob: layer.blob }, undefined);
  } finally {
    prepared?.release();
    for (const tree of trees) await tree.dispose();
    await workspace.dispose();
  }
}
