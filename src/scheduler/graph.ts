import { OrchestratorError } from '../errors.ts';

interface Node {
  options: { dependsOn: readonly string[]; blocks: readonly string[] };
}

/** Throws ERR_UNKNOWN_DEPENDENCY if `name`'s `dependsOn` or `blocks` names a worker not in `nodes`. */
export function validateNames(nodes: ReadonlyMap<string, Node>, name: string): void {
  const node = nodes.get(name)?.options;
  if (node === undefined) return;
  for (const [field, list] of [
    ['dependsOn', node.dependsOn],
    ['blocks', node.blocks],
  ] as const) {
    for (const other of list) {
      if (!nodes.has(other)) {
        throw new OrchestratorError(
          'ERR_UNKNOWN_DEPENDENCY',
          `worker "${name}": ${field} names "${other}", which is not registered`,
        );
      }
    }
  }
}

/**
 * Checks every worker's names, then that `dependsOn` has no cycle. Throws ERR_UNKNOWN_DEPENDENCY or
 * ERR_DEPENDENCY_CYCLE (listing the cycle: `a -> b -> a`). Iterative, so long chains cannot overflow
 * the stack.
 */
export function validateGraph(nodes: ReadonlyMap<string, Node>): void {
  for (const name of nodes.keys()) validateNames(nodes, name);
  const done = new Set<string>();
  for (const root of nodes.keys()) {
    if (done.has(root)) continue;
    const path: string[] = [];
    const onPath = new Set<string>();
    const stack: { name: string; next: number }[] = [{ name: root, next: 0 }];
    path.push(root);
    onPath.add(root);
    while (stack.length > 0) {
      const frame = stack[stack.length - 1] as { name: string; next: number };
      const deps = nodes.get(frame.name)?.options.dependsOn ?? [];
      const dep = deps[frame.next++];
      if (dep === undefined) {
        stack.pop();
        path.pop();
        onPath.delete(frame.name);
        done.add(frame.name);
        continue;
      }
      if (onPath.has(dep)) {
        const cycle = [...path.slice(path.indexOf(dep)), dep];
        throw new OrchestratorError('ERR_DEPENDENCY_CYCLE', `dependency cycle: ${formatCycle(cycle)}`);
      }
      if (done.has(dep)) continue;
      stack.push({ name: dep, next: 0 });
      path.push(dep);
      onPath.add(dep);
    }
  }
}

/** `a -> b -> a`; a very long cycle keeps its ends and says how many names it left out. */
function formatCycle(cycle: string[]): string {
  if (cycle.length <= 12) return cycle.join(' -> ');
  const left = cycle.length - 9;
  return [...cycle.slice(0, 5), `... (${left} more)`, ...cycle.slice(-4)].join(' -> ');
}
