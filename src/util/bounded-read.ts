/**
 * A read made while a caller waits in silence (the company's documents, a vector store, an embedder), bounded: its
 * signal aborts at the budget, so the request itself is cancelled, and the wait ends then even when the read
 * ignores its signal.
 */

/**
 * The turns (by their signal: one per answer, handed to every read and tool it makes) in which a read on the caller's
 * behalf already ran out of time — the documents' store or the embedder is slow now. Their later reads answer at
 * once instead of keeping the caller waiting another budget each (the search before the answer and the
 * search_knowledge tool alike).
 */
const slowTurns = new WeakSet<AbortSignal>();

/** This turn's reads ran out of time once: its later ones need not wait again. */
export const markTurnSlow = (turn: AbortSignal): void => void slowTurns.add(turn);

/** Whether a read of this turn already ran out of time. */
export const turnWasSlow = (turn: AbortSignal): boolean => slowTurns.has(turn);

/** The read ran past its budget (its signal was aborted then). */
export class ReadTimedOut extends Error {
  constructor(readonly budgetMs: number) {
    super(`no answer within ${budgetMs} ms`);
    this.name = 'ReadTimedOut';
  }
}

/**
 * `read`'s result, given a signal that aborts at `budgetMs` or with `signal`. Rejects with ReadTimedOut past the
 * budget, with `signal`'s reason when it aborts first, or with the read's own error.
 */
export async function boundedRead<T>(read: (signal: AbortSignal) => Promise<T>, budgetMs: number, signal?: AbortSignal): Promise<T> {
  const budget = AbortSignal.timeout(budgetMs);
  const either = signal ? AbortSignal.any([signal, budget]) : budget;
  let onAbort = (): void => {};
  const stopped = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(signal?.aborted ? signal.reason : new ReadTimedOut(budgetMs));
    if (either.aborted) onAbort();
    else either.addEventListener('abort', onAbort, { once: true });
  });
  stopped.catch(() => {});
  try {
    return await Promise.race([read(either), stopped]);
  } finally {
    either.removeEventListener('abort', onAbort);
  }
}
