import type { Serializable } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ForkPool } from './raw-fork-pool.ts';

const echoScript = fileURLToPath(new URL('../fixtures/raw-echo.mjs', import.meta.url));

/**
 * The limit of any fork pool: children that send each message straight back (no job module, no
 * bookkeeping), one message in flight per child, a FIFO in the parent, `advanced` serialization as
 * corral: one IPC message each way per run and nothing else.
 */
export class EchoPool extends ForkPool {
  constructor(size: number) {
    super(
      {
        script: echoScript,
        args: [],
        execArgv: [],
        request: (payload) => payload as Serializable,
        result: (reply) => reply,
      },
      size,
    );
  }
}
