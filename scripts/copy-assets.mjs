// Part of `npm run build`: copies the files tsc does not emit — the dashboard's files (HTML, CSS, JS;
// served as they are) to dist/http/dashboard/.
import { cpSync, mkdirSync, readdirSync } from 'node:fs';

const from = new URL('../src/http/dashboard/', import.meta.url);
const to = new URL('../dist/http/dashboard/', import.meta.url);
const served = /\.(html|css|js)$/;

mkdirSync(to, { recursive: true });
for (const name of readdirSync(from)) {
  if (served.test(name)) cpSync(new URL(name, from), new URL(name, to));
}
