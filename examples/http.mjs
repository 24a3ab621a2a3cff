import { createServer } from 'node:http';
import { createHttpHandler, WorkerOrchestrator } from 'corral';

const orch = new WorkerOrchestrator({ logger: false });
orch.registerWorker('report', () => 'sent', { executionMode: 'triggered' });
await orch.start();

// Its own server: the dashboard, /status, /metrics, /events, and mutations with the bearer token.
const server = await orch.listen({ port: 0, host: '127.0.0.1', token: process.env.CORRAL_TOKEN ?? 's3cret' });
console.log(server.url); // e.g. http://127.0.0.1:7070/ — open it for the dashboard
console.log((await (await fetch(new URL('status', server.url))).json()).workers); // 1
await server.close();

// Or inside your own server, under a path of its own:
const handler = createHttpHandler(orch, { token: process.env.CORRAL_TOKEN ?? 's3cret', basePath: '/corral' });
const app = (_req, res) => res.end('your app');
const own = createServer((req, res) => (req.url?.startsWith('/corral') ? handler(req, res) : app(req, res)));
await new Promise((resolve) => own.listen(0, '127.0.0.1', resolve));
const { port } = own.address();
console.log((await fetch(`http://127.0.0.1:${port}/corral/healthz`)).status); // 200
handler.close();
own.close();
await orch.stop();
