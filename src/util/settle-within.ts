/**
 * Waits for `work` to settle, at most `timeoutMs`. Resolves true when the time ran out first (the work goes on;
 * the caller decides whether to abort it). Used by every bounded shutdown step.
 */
export async function settleWithin(work: Promise<unknown> | Promise<unknown>[], timeoutMs: number): Promise<boolean> {
  const all = Array.isArray(work) ? Promise.allSettled(work) : work.then(() => undefined, () => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    all.then(() => false),
    new Promise<boolean>((r) => {
      timer = setTimeout(() => r(true), timeoutMs);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
  return timedOut;
}
