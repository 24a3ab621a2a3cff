// A sample config for `corral run`, with the example workers of ../workers/:
//
//   CORRAL_TOKEN=s3cret npx corral run examples/corral.config.mjs
//   npx corral status --watch                                  # GET needs no token
//   CORRAL_TOKEN=s3cret npx corral trigger flaky-api --payload '{"id":7}'
//   CORRAL_TOKEN=s3cret npx corral trigger hang                # killed by its 2 s timeout
//   npx corral dead-letters                                    # failed triggered runs
//
// (in this repository, without a build: node --import tsx src/cli/main.ts run examples/corral.config.mjs)
//
// Module paths are relative to this file. Options are the library's WorkerOptions; executionMode and
// priority may be written as text ('triggered', 'high'). `corral check <config>` validates a config
// without starting anything.
export default {
  orchestrator: {
    maxConcurrentWorkers: 4,
    shutdownTimeoutMs: 10_000,
  },
  http: {
    host: '127.0.0.1', // loopback only; put a proxy with TLS in front to expose it
    port: 7070, // the default of the client commands (--url http://127.0.0.1:7070)
    token: process.env.CORRAL_TOKEN ?? 'change-me',
  },
  workers: {
    // A pipeline: fetch writes a batch every 30 s, each success triggers process; cleanup never
    // overlaps process.
    fetch: {
      module: '../workers/fetch.mjs',
      executionMode: 'scheduled',
      intervalSeconds: 30,
    },
    process: {
      module: '../workers/process.mjs',
      executionMode: 'triggered',
      dependsOn: ['fetch'],
      priority: 'high',
    },
    cleanup: {
      module: '../workers/cleanup.mjs',
      cron: '*/5 * * * *',
      isolation: 'process',
      blocks: ['process'],
    },
    // CPU-heavy, in a thread, heartbeating per sieve segment.
    primes: {
      module: '../workers/primes.mjs',
      intervalSeconds: 60,
      priority: 'low',
      heartbeatTimeoutSeconds: 5,
    },
    // CPU-heavy, on demand, in a fresh child process every 10 runs.
    hash: {
      module: '../workers/hash.mjs',
      executionMode: 'triggered',
      isolation: 'process',
      recycleAfterRuns: 10,
    },
    // Crash-prone, on demand: retried twice; three failed runs in a row open the breaker for 30 s.
    'flaky-api': {
      module: '../workers/flaky-api.mjs',
      executionMode: 'triggered',
      isolation: 'process',
      maxRetries: 2,
      retryDelayMs: 200,
      maxConsecutiveFailures: 3,
      breakerCooldownSeconds: 30,
    },
    // Misbehaving on demand: hangs in sync code (killed after 2 s), leaks (killed at 64 MiB of heap).
    hang: {
      module: '../workers/hang.mjs',
      executionMode: 'triggered',
      isolation: 'process',
      timeoutSeconds: 2,
      killGraceMs: 500,
      maxRetries: 0,
    },
    leak: {
      module: '../workers/leak.mjs',
      executionMode: 'triggered',
      memoryLimitMb: 64,
      timeoutSeconds: 10,
      maxRetries: 0,
    },
  },
};
