// One config for every host of a cluster (README: "Running on several machines"):
//
//   CORRAL_REDIS=redis://10.0.0.5:6379 npx corral run examples/cluster.config.mjs   # on each machine
//
// `npm run demo:cluster` (workers/cluster-demo.ts) starts a local redis-server and three hosts of this config on one machine.
export default {
  orchestrator: {
    maxConcurrentWorkers: 2, // per host
    shutdownTimeoutMs: 5000,
  },
  cluster: {
    redis: process.env.CORRAL_REDIS ?? 'redis://127.0.0.1:6379',
    name: 'demo',
    hostId: process.env.CORRAL_HOST_ID, // default: `${hostname}:${pid}`
    lockMs: 5000,
  },
  workers: {
    // Triggered: runs on whichever host has a free slot.
    where: { module: '../workers/where.mjs', executionMode: 'triggered', isolation: 'process' },
    // Scheduled: fires once every 2 s in the whole cluster, whatever the number of hosts.
    tick: { module: '../workers/where.mjs', executionMode: 'scheduled', intervalSeconds: 2 },
  },
};
