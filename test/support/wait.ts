import assert from 'node:assert/strict';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long a probe still running at the deadline may take to answer (a slow `docker exec`). */
const PROBE_GRACE_MS = 30000;

/**
 * Polls `probe` until it returns a value (not undefined), or fails the test after `timeoutMs`
 * saying what it waited for (and `details()`, e.g. a log's tail).
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 30000,
  details = () => '',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const timedOut = () => assert.fail(`timed out after ${timeoutMs / 1000} s waiting for ${what}${details()}`);
  for (;;) {
    // A probe that never settles (a request that hangs) must not hold the wait past its deadline.
    let timer: NodeJS.Timeout | undefined;
    let value: T | undefined;
    try {
      const expired = new Promise<'expired'>((resolve) => {
        timer = setTimeout(() => resolve('expired'), Math.max(0, deadline - Date.now()) + PROBE_GRACE_MS);
      });
      const settled = await Promise.race([(async () => ({ value: await probe() }))(), expired]);
      if (settled === 'expired') timedOut();
      value = (settled as { value: T | undefined }).value;
    } finally {
      clearTimeout(timer);
    }
    if (value !== undefined) return value;
    if (Date.now() > deadline) timedOut();
    await sleep(200);
  }
}
