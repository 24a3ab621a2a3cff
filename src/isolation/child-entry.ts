/**
 * The entry of a child process sandbox. argv[2] is the worker module. It runs attempts sent over IPC
 * and replies with plain data. If the supervisor goes away (IPC disconnect), it kills its own process
 * group — itself and its descendants — so nothing is orphaned; a host SIGKILL while this process is
 * stuck in synchronous code is covered by the supervisor's reaper, which does not need this loop.
 */
import { serializeError } from '../errors.ts';
import { LazyAbort } from './context.ts';
import { createExecutor } from './execute.ts';
import {
  type AttemptResult,
  isRunMessage,
  type ParentMessage,
  type SandboxMessage,
  unpackTask,
} from './protocol.ts';

const modulePath = process.argv[2];
if (modulePath === undefined || process.send === undefined) {
  process.stderr.write('corral child-entry: must be forked by corral with a module path\n');
  process.exit(70);
}

const send = (message: SandboxMessage): void => {
  process.send?.(message);
};
// `loaded` once: the supervisor then starts each attempt's heartbeat watch as it sends the attempt, and
// the child needs no `started` message per run.
const executor = createExecutor(modulePath, send, {
  checkCloneable: false,
  reportStarted: false,
  onLoaded: () => send(['loaded']),
});
/** The attempt in progress (a child runs one at a time), for an `abort` from the supervisor. */
let current: { id: number; abort: LazyAbort } | undefined;

function killOwnGroup(): never {
  try {
    process.kill(-process.pid, 'SIGKILL');
  } catch {
    // Not a group leader (forked without `detached`): at least end this process.
  }
  process.exit(1);
}

process.on('disconnect', killOwnGroup);

/** The result, or what went wrong sending it: the child reports that instead of dying. */
function reply(result: AttemptResult): void {
  if (current?.id === result[1]) current = undefined;
  try {
    send(result);
  } catch (error) {
    const failure = new TypeError(
      `the worker's result cannot be sent to the supervisor: ${(error as Error).message}`,
    );
    send(['failed', result[1], 'error', serializeError(failure)]);
  }
}

process.on('message', (message: ParentMessage) => {
  if (isRunMessage(message)) {
    const task = unpackTask(message);
    const abort = new LazyAbort();
    current = { id: task.id, abort };
    const result = executor.execute(task, abort);
    if (Array.isArray(result)) reply(result);
    else void result.then(reply);
    return;
  }
  switch (message[0]) {
    case 'abort':
      if (current?.id === message[1]) current.abort.abort(new Error('run aborted by the supervisor'));
      break;
    case 'exit':
      // A requested exit: the supervisor clears the rest of the process group itself.
      process.off('disconnect', killOwnGroup);
      process.exit(0);
  }
});
