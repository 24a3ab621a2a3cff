// A config for `corral run` (check it with `corral check examples/report.config.mjs`).
export default {
  orchestrator: { maxConcurrentWorkers: 4, shutdownTimeoutMs: 10_000 }, // any option but logger and clock
  http: { host: '127.0.0.1', port: 7070, token: process.env.CORRAL_TOKEN ?? 'change-me' },
  workers: {
    report: {
      module: './workers/process-batch.mjs', // relative to this file
      executionMode: 'triggered',
      isolation: 'process',
      timeoutSeconds: 30,
    },
  },
};
