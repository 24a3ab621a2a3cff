// Hanging example. Input: ignored. Output: never returns.
// A synchronous busy loop: the worker never yields, so cooperative cancellation cannot work;
// only the supervisor's timeout (terminating the thread / process tree) ends it.
export default function hang() {
  for (;;) {
    // spin
  }
}
