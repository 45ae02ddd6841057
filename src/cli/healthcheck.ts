// `hutch healthcheck run`, as podman spells and prints it. The work is in
// src/verbs/healthcheck.ts, loaded when the verb runs.
import type { Command } from 'commander';
import { print } from './output.js';

export function registerHealthcheck(program: Command): void {
  const healthcheck = program.command('healthcheck').description("run a container's healthcheck");
  healthcheck
    .command('run')
    .description('run the healthcheck once: exit 0 healthy, 1 unhealthy (printed), 125 no healthcheck')
    .argument('<container>', 'name or id')
    .action(async (name: string) => {
      const { healthcheckRun } = await import('../verbs/healthcheck.js');
      const outcome = await healthcheckRun(name);
      if (!outcome.passed) print('unhealthy\n');
      process.exitCode = outcome.passed ? 0 : 1;
    });
}
