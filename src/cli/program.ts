// The `corral` command line: commander wiring of the commands in run.ts and commands.ts.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import {
  listDeadLetters,
  makeClient,
  removeDeadLetter,
  replayDeadLetter,
  setEnabled,
  status,
  trigger,
} from './commands.ts';
import { ConfigError, DEFAULT_CONFIG_TIMEOUT_MS, DEFAULT_PORT, DEFAULT_URL, loadConfig } from './config.ts';
import { CliError, EXIT } from './errors.ts';
import { LOG_LEVELS, type LogLevel } from './logger.ts';
import { runCommand } from './run.ts';

interface ClientFlags {
  url: string;
  token?: string;
  timeout: number;
  json?: boolean;
}

function version(): string {
  // src/cli/ and dist/cli/ are both two levels under the package root.
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number of seconds > 0');
  return n;
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be an integer >= 1');
  return n;
}

/** A command that calls the HTTP API: --url, --token, --timeout and --json. */
function clientCommand(parent: Command, spec: string, description: string, isDefault = false): Command {
  return parent
    .command(spec, { isDefault })
    .description(description)
    .addOption(
      new Option('--url <url>', 'base URL of the HTTP API of `corral run`')
        .env('CORRAL_URL')
        .default(DEFAULT_URL),
    )
    .addOption(new Option('--token <token>', 'bearer token (mutations need it)').env('CORRAL_TOKEN'))
    .addOption(
      new Option('--timeout <seconds>', 'per request')
        .argParser(positiveSeconds)
        .default(30)
        .env('CORRAL_TIMEOUT'),
    )
    .option('--json', 'print the JSON the server answered');
}

/** `--config-timeout` of `run` and `check`. */
function configTimeoutOption(): Option {
  return new Option('--config-timeout <seconds>', 'how long the config module may take to give its config')
    .argParser(positiveSeconds)
    .default(DEFAULT_CONFIG_TIMEOUT_MS / 1000)
    .env('CORRAL_CONFIG_TIMEOUT');
}

/** Builds the program; every action stores its exit code in `result.code`. */
export function buildProgram(result: { code: number }): Command {
  const program = new Command('corral');
  program
    .description(
      'Supervise background jobs: run an orchestrator from a config file, and control it over HTTP.',
    )
    .version(version(), '-v, --version')
    .showHelpAfterError('(corral --help shows the usage)')
    .exitOverride()
    .addHelpText(
      'after',
      `
Client commands call the HTTP API of a running \`corral run\`: --url (or CORRAL_URL, default
${DEFAULT_URL}; a config's http.port defaults to ${DEFAULT_PORT} too) and --token (or CORRAL_TOKEN).

Exit codes: 0 ok, 1 failed, 2 usage or config error, 3 server unreachable, 4 token refused (401/403),
5 unknown worker or dead letter (404), 130 forced exit of \`run\` by a second Ctrl-C.`,
    );

  program
    .command('run')
    .description('run the workers of a config file until SIGINT / SIGTERM (then stop gracefully)')
    .argument('<config>', 'config module (.js, .mjs, .cjs: default export) or .json')
    .addOption(
      new Option('--log-level <level>', 'pino log level (logs go to stderr)')
        .choices(LOG_LEVELS)
        .default('info')
        .env('CORRAL_LOG_LEVEL'),
    )
    .addOption(configTimeoutOption())
    .action(async (config: string, flags: { logLevel: LogLevel; configTimeout: number }) => {
      result.code = await runCommand(config, {
        logLevel: flags.logLevel,
        configTimeoutMs: Math.round(flags.configTimeout * 1000),
      });
    });

  program
    .command('check')
    .description('validate a config file without starting anything (exit 0 valid, 2 invalid)')
    .argument('<config>', 'config module (.js, .mjs, .cjs) or .json')
    .addOption(configTimeoutOption())
    .action(async (file: string, flags: { configTimeout: number }) => {
      const config = await loadConfig(file, { timeoutMs: Math.round(flags.configTimeout * 1000) });
      const names = config.workers.map((w) => w.name).join(', ');
      const http = config.http === undefined ? 'no http' : `http on ${config.http.host}:${config.http.port}`;
      const n = config.workers.length;
      process.stdout.write(
        `corral: ${file} is valid: ${n} worker${n === 1 ? '' : 's'} (${names}), ${http}\n`,
      );
      result.code = EXIT.OK;
    });

  clientCommand(program, 'status', 'show the status table of a running instance')
    .option('-w, --watch', 'refresh every second until Ctrl-C')
    .action(async (flags: ClientFlags & { watch?: boolean }) => {
      result.code = await status(makeClient(flags), flags);
    });

  clientCommand(program, 'trigger', 'queue a run of a worker (whatever its mode)')
    .argument('<name>', 'worker name')
    .option('--payload <json>', 'the run payload, as JSON')
    .action(async (name: string, flags: ClientFlags & { payload?: string }) => {
      result.code = await trigger(makeClient(flags), name, flags);
    });

  clientCommand(program, 'enable', 're-enable a worker (closes its breaker, resets its failures)')
    .argument('<name>', 'worker name')
    .action(async (name: string, flags: ClientFlags) => {
      result.code = await setEnabled(makeClient(flags), name, true, flags);
    });

  clientCommand(program, 'disable', 'disable a worker (no scheduled runs, triggers refused)')
    .argument('<name>', 'worker name')
    .action(async (name: string, flags: ClientFlags) => {
      result.code = await setEnabled(makeClient(flags), name, false, flags);
    });

  const deadLetters = program
    .command('dead-letters')
    .description('list, replay or remove dead letters (list when no subcommand is given)');
  clientCommand(deadLetters, 'list', 'list the dead letters, oldest first (the default)', true)
    .option('--worker <name>', 'only those of this worker')
    .option('--payload', 'with each payload (left out by default: they can be large)')
    .addOption(new Option('--limit <n>', 'at most this many').argParser(positiveInteger))
    .action(async (flags: ClientFlags & { worker?: string; payload?: boolean; limit?: number }) => {
      result.code = await listDeadLetters(makeClient(flags), flags);
    });
  clientCommand(deadLetters, 'replay', 'run a dead letter again; removed when it succeeds')
    .argument('<id>', 'dead letter id')
    .action(async (id: string, flags: ClientFlags) => {
      result.code = await replayDeadLetter(makeClient(flags), id, flags);
    });
  clientCommand(deadLetters, 'remove', 'drop a dead letter')
    .alias('rm')
    .argument('<id>', 'dead letter id')
    .action(async (id: string, flags: ClientFlags) => {
      result.code = await removeDeadLetter(makeClient(flags), id, flags);
    });

  return program;
}

/** Runs the command line `args` (without node and the script) and resolves with the exit code. */
export async function run(args: string[]): Promise<number> {
  const result = { code: EXIT.OK as number };
  const program = buildProgram(result);
  try {
    await program.parseAsync(args, { from: 'user' });
    return result.code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander printed the message (or the help / version) already.
      return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      const n = error.problems.length;
      process.stderr.write(`corral: the config has ${n} problem${n === 1 ? '' : 's'}; nothing was started\n`);
      return error.exitCode;
    }
    if (error instanceof CliError) {
      process.stderr.write(`corral: ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(
      `corral: unexpected error: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    return EXIT.FAILURE;
  }
}
