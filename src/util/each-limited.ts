/** Runs `work` on every item, at most `concurrency` at once (file I/O on libuv's thread pool), in order of start. */
export async function eachLimited<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const runNext = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, runNext));
}
