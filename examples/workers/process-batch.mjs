// A worker module: its default export is the worker function (module.exports in CommonJS).
export default async function processBatch(ctx) {
  // ctx: { name, payload, attempt, signal, heartbeat(), config }
  // A pipeline run (fetch succeeded) has no payload: it takes the current month.
  const month = ctx.payload?.month ?? new Date().toISOString().slice(0, 7);
  const rows = await load(month);
  for (const row of rows) {
    transform(row);
    ctx.heartbeat(); // "still alive", for heartbeatTimeoutSeconds
  }
  return { month, rows: rows.length }; // sent back to the host (structured clone)
}

/** Stands for reading your data. */
async function load(month) {
  return Array.from({ length: 1000 }, (_, i) => ({ month, i }));
}

/** Stands for your processing. */
function transform(row) {
  row.total = row.i * 2;
}
