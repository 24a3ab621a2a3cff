import { OrchestratorError } from '../errors.ts';

interface Node {
  options: { dependsOn: readonly string[]; blocks: readonly string[] };
}

/**
 * Checks that every name in `dependsOn` and `blocks` of `names` exists and that `dependsOn` has no
 * cycle through them. Throws ERR_UNKNOWN_DEPENDENCY or ERR_DEPENDENCY_CYCLE (listing the cycle).
 */
export function validateGraph(nodes: ReadonlyMap<string, Node>, names: Iterable<string>): void {
  const checked = [...names];
  for (const name of checked) {
    const node = nodes.get(name)?.options;
    if (node === undefined) continue;
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
  const done = new Set<string>();
  const path: string[] = [];
  const onPath = new Set<string>();
  const visit = (name: string): void => {
    if (done.has(name)) return;
    if (onPath.has(name)) {
      const cycle = [...path.slice(path.indexOf(name)), name];
      throw new OrchestratorError('ERR_DEPENDENCY_CYCLE', `dependency cycle: ${cycle.join(' -> ')}`);
    }
    onPath.add(name);
    path.push(name);
    for (const dep of nodes.get(name)?.options.dependsOn ?? []) visit(dep);
    path.pop();
    onPath.delete(name);
    done.add(name);
  };
  for (const name of checked) visit(name);
}
