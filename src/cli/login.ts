import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Terminal } from '../verbs/login.js';

function parseBoolean(value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new InvalidArgumentError('write --tls-verify=true or --tls-verify=false');
}

/** login prompts and reports on this process's terminal. */
const terminal = (): Terminal => ({
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});

const authFileOption = () =>
  new Option('--authfile <path>', "the auth file to use (default: $REGISTRY_AUTH_FILE, else podman's auth.json)");

export function registerLogin(program: Command): void {
  program
    .command('login')
    .description('log in to a registry: check the credentials with it and keep them in auth.json, as podman does')
    .argument('[registry]', 'host[:port], optionally with a path (default: the first unqualified-search registry)')
    .option('-u, --username <user>', 'the user name')
    .option('-p, --password <password>', 'the password (insecure: other users can see it; use --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .addOption(
      new Option('--tls-verify [bool]', 'require HTTPS with a verified certificate (default true)').argParser(
        parseBoolean,
      ),
    )
    .option('--get-login', 'print the user name of the stored login for the registry')
    .addOption(authFileOption())
    .action(
      async (
        registry: string | undefined,
        options: {
          username?: string;
          password?: string;
          passwordStdin?: boolean;
          tlsVerify?: boolean;
          getLogin?: boolean;
          authfile?: string;
        },
      ) => {
        const { login } = await import('../verbs/login.js');
        await login(
          {
            registry,
            username: options.username,
            password: options.password,
            passwordStdin: options.passwordStdin,
            tlsVerify: options.tlsVerify,
            getLogin: options.getLogin,
            authFile: options.authfile,
          },
          terminal(),
        );
      },
    );

  program
    .command('logout')
    .description('remove the stored login of a registry')
    .argument('[registry]', 'host[:port], optionally with a path (default: the first unqualified-search registry)')
    .option('-a, --all', 'remove the logins of all registries')
    .addOption(authFileOption())
    .action(async (registry: string | undefined, options: { all?: boolean; authfile?: string }) => {
      const { logout } = await import('../verbs/login.js');
      await logout({ registry, all: options.all, authFile: options.authfile }, terminal());
    });
}
