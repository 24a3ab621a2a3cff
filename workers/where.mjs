// For the cluster demo (examples/cluster-demo.ts): says which host ran it. Payload: { ms?: number }.
import { hostname } from 'node:os';

export default async function where(ctx) {
  await new Promise((resolve) => setTimeout(resolve, ctx.payload?.ms ?? 200));
  return { host: process.env.CORRAL_HOST_ID ?? hostname(), pid: process.pid, attempt: ctx.attempt };
}
