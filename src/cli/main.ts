// The hutch command line: commander definitions only. Each verb's module maps
// flags to typed options and calls into src/run, src/image or src/build.
import { Command, CommanderError } from 'commander';
import { ExitCode } from '../errors.js';
import { registerBuild } from './build.js';
import { registerContainers } from './containers.js';
import { registerContainerTools } from './container-tools.js';
import { registerHealthcheck } from './healthcheck.js';
import { addGlobalFlags, applyGlobalFlags, GlobalFlagExit, type GlobalFlagValues } from './global-flags.js';
import { registerImages } from './images.js';
import { registerInfo } from './info.js';
import { log } from './log.js';
import { registerLogin } from './login.js';
import { registerNetwork } from './network.js';
import { registerRegistryVerbs } from './registry.js';
import { reportError } from './report.js';
import { registerResources } from './resources.js';
import { registerSystem } from './system.js';
import { registerUnshare } from './unshare.js';
import { registerVersion } from './version.js';
import { registerVolumes } from './volume.js';
import { version } from '../package.js';
import { takeSessionWarnings } from '../host/session-warnings.js';

export function buildProgram(): Command {
  const program = new Command('hutch')
    .description('Rootless containers and images: no daemon, no root')
    .version(`hutch version ${version}`, '-v, --version', 'print the version')
    .enablePositionalOptions()
    .exitOverride()
    .showSuggestionAfterError();
  addGlobalFlags(program).hook('preAction', (_program, verb) => {
    applyGlobalFlags(program.opts<GlobalFlagValues>(), process.argv, process.env);
    log.trace(`options of ${verbPath(verb)}: ${JSON.stringify(verb.opts())}`);
  });
  registerContainers(program);
  registerContainerTools(program);
  registerHealthcheck(program);
  registerImages(program);
  registerInfo(program);
  registerLogin(program);
  registerNetwork(program);
  registerRegistryVerbs(program);
  registerResources(program);
  registerSystem(program);
  registerUnshare(program);
  registerVersion(program);
  registerVolumes(program);
  // After registerImages: `hutch image build` joins its group.
  registerBuild(program);
  return program;
}

/** `container rm`: the verb as the user typed it, below the program. */
function verbPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent != null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

async function main(argv: string[]): Promise<void> {
  // Said once, when the session starts (the command that started it exec'd this one): every later command shares it.
  for (const warning of takeSessionWarnings()) process.stderr.write(`warning: ${warning}\n`);
  const program = buildProgram();
  if (argv.length <= 2) {
    program.outputHelp({ error: true });
    process.stderr.write("Error: missing command 'hutch COMMAND'\n");
    process.exitCode = ExitCode.Error;
    return;
  }
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof GlobalFlagExit) {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = error.exitCode;
      return;
    }
    if (error instanceof CommanderError) {
      // commander printed the message (or the help) already.
      process.exitCode = error.exitCode === 0 ? 0 : ExitCode.Error;
      return;
    }
    process.exitCode = reportError(error);
  }
}

// Not a top-level await: the bundle is CommonJS (scripts/build.mjs), and main reports its own errors.
void main(process.argv);
