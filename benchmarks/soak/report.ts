// The soak's report: submissions by isolation and outcome, failure reasons, workers, stop(), the
// predictions from the modes, then the checks and the verdict.
import type { FailureReason, OrchestratorStatus, StopReport } from 'corral';
import type { Accounting, Ledger, Outcome } from './accounting.ts';
import type { Check } from './checks.ts';
import type { ProcInfo } from './proc.ts';
import { table } from './util.ts';
import type { Spec } from './workers.ts';

/** Prints what happened: submissions, failure reasons, workers, stop(), predictions. */
export function printFigures(
  a: Accounting,
  ledger: Ledger,
  specs: Spec[],
  status: OrchestratorStatus,
  report: StopReport,
  atStop: { status: OrchestratorStatus; ms: number },
): void {
  const nOf = (o: Outcome) => a.count.get(o) ?? 0;
  console.log('\n== submissions (run() and triggerWorker()) by isolation');
  const outcomes: Outcome[] = [
    'succeeded',
    'dead-lettered',
    'refused: queue full',
    'refused: disabled',
    'cancelled by caller',
    'aborted by stop',
    'pending',
    'unexpected',
  ];
  table(
    [
      'isolation',
      'submitted',
      ...outcomes.map((o) =>
        o.replace('refused: ', 'refused ').replace(' by caller', '').replace(' by stop', ' @stop'),
      ),
    ],
    [
      ...['thread', 'process', 'inline'].map((iso) => {
        const row = a.byIsolation.get(iso) ?? new Map<Outcome, number>();
        const total = [...row.values()].reduce((a, b) => a + b, 0);
        return [iso, total, ...outcomes.map((o) => row.get(o) ?? 0)];
      }),
      ['all', ledger.submitted, ...outcomes.map(nOf)],
    ],
  );

  console.log(
    '== failure reasons: dead letters (submissions) / failed attempts (all runs, incl. scheduled & continuous)',
  );
  const allReasons: FailureReason[] = ['error', 'timeout', 'crash', 'memory', 'stalled', 'aborted', 'load'];
  table(
    ['isolation', ...allReasons],
    ['thread', 'process', 'inline'].map((iso) => [
      iso,
      ...allReasons.map(
        (r) =>
          `${a.deadByReason.get(`${iso}|${r}`) ?? 0} / ${ledger.attemptFailures.get(`${iso}|${r}`) ?? 0}`,
      ),
    ]),
  );

  console.log('== workers');
  table(
    [
      'worker',
      'isolation',
      'mode',
      'runs',
      'ok',
      'failed',
      'retries',
      'timeouts',
      'crashes',
      'breaker open/closed',
      'max in flight',
    ],
    specs.map((s) => {
      const st = status.workerStates[s.name];
      return [
        s.name,
        s.isolation,
        s.options.executionMode ?? 'scheduled',
        st?.totals.runs ?? 0,
        st?.totals.succeeded ?? 0,
        st?.totals.failed ?? 0,
        st?.totals.retries ?? 0,
        st?.totals.timeouts ?? 0,
        st?.totals.crashes ?? 0,
        `${ledger.breakerOpened.get(s.name) ?? 0}/${ledger.breakerClosed.get(s.name) ?? 0}`,
        `${ledger.maxInFlightByWorker.get(s.name) ?? 0}/${s.options.concurrency ?? 1}`,
      ];
    }),
  );

  const runsBy = new Map<string, number>();
  for (const s of specs) {
    runsBy.set(s.isolation, (runsBy.get(s.isolation) ?? 0) + (status.workerStates[s.name]?.totals.runs ?? 0));
  }
  console.log(
    `runs by isolation (all workers): ${['thread', 'process', 'inline'].map((iso) => `${iso} ${runsBy.get(iso) ?? 0}`).join(', ')}; ` +
      `all ${[...runsBy.values()].reduce((a, b) => a + b, 0)}`,
  );
  console.log(
    `stop(): ${Math.round(atStop.ms)} ms; at stop ${atStop.status.running} running, ${atStop.status.queued} queued; ` +
      `report: completed ${report.completed.length}, terminated ${report.terminated.length} ` +
      `(${a.terminatedTriggered} of triggered workers), dropped ${report.dropped}, requeued ${report.requeued}`,
  );
  const mispredictedTotal = [...a.mispredicted.values()].reduce((a, b) => a + b, 0);
  console.log(
    `outcome as predicted from the modes: ${a.predicted}/${a.predicted + mispredictedTotal} ` +
      '(informational: e.g. a cold start under load can turn ok into timeout)',
  );
  for (const [what, times] of [...a.mispredicted].sort((a, b) => b[1] - a[1]).slice(0, 8)) {
    const example = a.mispredictedExample.get(what);
    console.log(
      `  ${times}× ${what}${example === undefined ? '' : ` (last error: ${example.slice(0, 90)})`}`,
    );
  }
  console.log('');
}

/** Prints the checks and what failed; true when every check passed. */
export function printChecks(list: Check[], leftAtStop: ProcInfo[], ledger: Ledger): boolean {
  console.log('== checks');
  table(
    ['check', 'result', 'value', 'bound'],
    list.map((c) => [c.name, c.ok ? 'PASS' : 'FAIL', c.value, c.bound]),
  );
  if (leftAtStop.length > 0) {
    console.log('processes left when stop() resolved:');
    for (const p of leftAtStop) console.log(`  pid ${p.pid} ppid ${p.ppid}: ${p.cmd}`);
  }
  if (ledger.problems.length > 0) {
    console.log(`${ledger.problems.length} problem(s), first ${Math.min(ledger.problems.length, 25)}:`);
    for (const text of ledger.problems.slice(0, 25)) console.log(`  ${text}`);
  }
  const failed = list.filter((c) => !c.ok);
  console.log(failed.length === 0 ? 'SOAK PASSED' : `SOAK FAILED: ${failed.map((c) => c.name).join(', ')}`);
  return failed.length === 0;
}
