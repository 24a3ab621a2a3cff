/**
 * The entry of a child process sandbox. argv[2] is the worker module. It runs attempts sent over IPC
 * and replies with plain data. If the supervisor goes away (IPC disconnect), it kills its own process
 * group — itself and its descendants — so nothing is orphaned; a host SIGKILL while this process is
 * stuck in synchronous code is covered by the supervisor's reaper, which does not need this loop.
 */
import { serializeError } from '../errors.ts';
import { LazyAbort } from './context.ts';
import { createExecutor } from './execute.ts';
import { type ParentMessage, type SandboxMessage, unpackTask } from './protocol.ts';

const modulePath = process.argv[2];
if (modulePath === undefined || process.send === undefined) {
  process.stderr.write('corral child-entry: must be forked by corral with a module path\n');
  process.exit(70);
}

const send = (message: SandboxMessage): void => {
  process.send?.(message);
};
const executor = createExecutor(modulePath, send, false);
const aborts = new Map<number, LazyAbort>();

function killOwnGroup(): never {
  try {
    process.kill(-process.pid, 'SIGKILL');
  } catch {
    // Not a group leader (forked without `detached`): at least end this process.
  }
  process.exit(1);
}

process.on('disconnect', killOwnGroup);

process.on('message', (message: ParentMessage) => {
  switch (message[0]) {
    case 'run': {
      const task = unpackTask(message[1]);
      const abort = new LazyAbort();
      aborts.set(task.id, abort);
      void executor.execute(task, abort).then((result) => {
        aborts.delete(task.id);
        try {
          send(result);
        } catch (error) {
          // The result could not be serialized: report that instead of dying.
          const failure = new TypeError(
            `the worker's result cannot be sent to the supervisor: ${(error as Error).message}`,
          );
          send(['failed', task.id, 'error', serializeError(failure)]);
        }
      });
      break;
    }
    case 'abort':
      aborts.get(message[1])?.abort(new Error('run aborted by the supervisor'));
      break;
    case 'exit':
      // A requested exit: the supervisor clears the rest of the process group itself.
      process.off('disconnect', killOwnGroup);
      process.exit(0);
  }
});
