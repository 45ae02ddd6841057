/**
 * A new session's warnings (the id mappings it could not make), handed from
 * the command that started it to the command that runs in it: enterSession
 * replaces the first with the second (execve), so they travel in the
 * environment, and src/cli says them. No imports: src/cli reads them before
 * anything loads the addon.
 */

/** The environment variable enterSession puts them in, as a JSON array of strings. */
export const SESSION_WARNINGS = 'HUTCH_SESSION_WARNINGS';

/**
 * The warnings of the session enterSession started before it exec'd this
 * command, removed from the environment so that nothing this command starts
 * inherits them. Empty in every later command: they are said once.
 */
export function takeSessionWarnings(env: NodeJS.ProcessEnv = process.env): string[] {
  const text = env[SESSION_WARNINGS];
  if (text === undefined) return [];
  delete env[SESSION_WARNINGS];
  try {
    const warnings: unknown = JSON.parse(text);
    return Array.isArray(warnings) ? warnings.filter((w): w is string => typeof w === 'string') : [];
  } catch (error) {
    // Not what enterSession wrote: someone else's variable, nothing to say.
    if (error instanceof SyntaxError) return [];
    throw error;
  }
}
