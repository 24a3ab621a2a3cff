// Chaos soak: `npm run soak -- --minutes N [--rate R] [--seed S] [--nice K]` (N may be fractional, e.g. 0.5;
// K: nice value of spinning chaos child processes, default 10, 0 to leave them at the host's priority).
//
// One orchestrator runs workers over all three isolations for N minutes: TRIGGERED chaos workers and
// BULK workers (most of the volume: short runs in reused sandboxes) fed by a steady load generator
// (run() and triggerWorker() with payloads that carry a unique submission id, a few run()s cancelled by
// their caller's signal), SCHEDULED chaos workers (every 0.5–0.8 s) and
// CONTINUOUS ones, all running benchmarks/fixtures/chaos.mjs (succeed, throw, exit, uncaught, hang,
// leak, stop heartbeating, ignore SIGTERM, spawn a grandchild, ...). Retries, breakers with short
// cooldowns, small timeouts and queues, and a global cap low enough that queues form. Then stop() —
// while the load is still flowing — and check:
//   accounting  every submission accounted for exactly once: succeeded | dead-lettered (a dead letter
//               with its id, same reason and attempts) | refused at submit (ERR_QUEUE_FULL, or
//               ERR_WORKER_DISABLED / triggerWorker false) | cancelled by its caller | aborted by stop();
//               the aborted ones equal StopReport.dropped + the terminated runs of triggered workers;
//               nothing pending; no dead letter or success event without a submission; dead-letter
//               queue empty at the end (the soak removes each entry it has accounted for)
//   caps        attempts in flight never above maxConcurrentWorkers, nor per worker above concurrency
//   orphans     no process left whose ancestry leads here (less tsx's esbuild service), nor any process
//               carrying this soak's tag (grandchildren re-parented away from us)
//   threads     Threads: in /proc/self/status back to its value before the orchestrator started
//   rss         host RSS, median of minute 2 vs the last minute, sampled every second: growth ≤ +10 %
//               (runs under 3 minutes: first vs last third, ≤ max(+50 %, +100 MB); the first third is
//               warm-up); anonymous memory, heap, external and thread count are shown beside it
//   event loop  max delay of the host's event loop (monitorEventLoopDelay) ≤ 1000 ms, and its own
//               blocking: the main thread's time on a CPU within one gap of its loop < 50 ms
//   coverage    the chaos really happened: every failure reason seen in threads and processes, breakers
//               opened and closed again, runs cancelled by their caller
// Exit code 1 if any check fails. It imports the built package, and builds it first if dist/ is stale.
// `--inject lost-dead-letter|orphan|thread` plants a fault to show that the checks catch it (exit 1).
// `--max-loop-delay-ms M` loosens the event-loop bound (npm test runs the soak beside other suites),
// `--max-blocking-ms B` the blocking bound. `--rate R` submissions/s (default 200).
// SOAK_GAPS=1 prints every event-loop gap over 150 ms.
//
// The parts, in benchmarks/soak/: args.ts (command line), workers.ts (the chaos workers), load.ts (load
// generator), accounting.ts (what was seen, each submission accounted for), checks.ts (host monitor,
// orphans, threads, RSS, event loop, coverage), proc.ts (/proc), report.ts, main.ts (the run).
import './soak/main.ts';
