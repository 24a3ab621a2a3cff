// `npm run bench [-- name ...]`: runs every benchmarks/*.bench.ts (or those whose name contains one of
// the arguments), each in its own process so that one scenario's heap and threads cannot skew the next.
// Benchmarks import the built package ('corral' -> dist/), so it is built first.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));
const filters = process.argv.slice(2);
const scenarios = readdirSync(here)
  .filter((file) => file.endsWith('.bench.ts'))
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();

if (scenarios.length === 0) {
  console.error(`no scenario matches ${filters.join(', ')}`);
  process.exit(2);
}
const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

// The tools some scenarios compare with (Bree, BullMQ, ...) live in benchmarks/peers/package.json, apart
// from the library's own dependencies. A scenario whose peers are missing skips them.
if (!existsSync(`${here}peers/node_modules`)) {
  const install = spawnSync('npm', ['--prefix', `${here}peers`, 'install', '--no-audit', '--no-fund'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (install.status !== 0) console.error('could not install the benchmark peers (benchmarks/peers)');
}

let failed = 0;
for (const file of scenarios) {
  const result = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', `${here}${file}`], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    console.error(`${file} failed (exit ${result.status ?? result.signal})`);
    failed++;
  }
}
process.exit(failed === 0 ? 0 : 1);
