#!/usr/bin/env node
// The `corral` executable (package.json "bin"). See program.ts for the commands, errors.ts for the
// exit codes.
import { EXIT } from './errors.ts';
import { run } from './program.ts';

const args = process.argv.slice(2);

// A reader that went away (`corral status --watch | head`) ends a client command quietly. `run` keeps
// supervising: its stdout lines are informative, and losing them must not skip the graceful stop.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  if (args[0] !== 'run') process.exit(process.exitCode ?? 0);
});

const code = await run(args);
process.exitCode = code;
// Bad usage or config: nothing was started, and nothing is waited for. A config module may have left a
// timer or a promise pending (one that never settled is why its loading timed out).
if (code === EXIT.USAGE) process.exit(code);
