// The `corral` CLI as the CLI suites run it: from source (node --import tsx), in the repository.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../', import.meta.url));
export const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `corral ...args` to its end (`limitMs` at most, then SIGKILL by pid), with none of the CORRAL_*
 * variables of the environment (they would change what the commands do) but those of `env`.
 */
export function corral(
  args: string[],
  env: Record<string, string> = {},
  limitMs = 60_000,
): Promise<CliResult> {
  const inherited = { ...process.env };
  for (const key of Object.keys(inherited)) if (key.startsWith('CORRAL_')) delete inherited[key];
  const child = spawn(process.execPath, [...CLI, ...args], {
    cwd: root,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export function describeResult(r: CliResult): string {
  return `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}
