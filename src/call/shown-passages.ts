/**
 * The company's passages a live call's model has been shown, kept true to the documents the company has now.
 *
 * Per-turn retrieval is fresh, but what the model saw earlier stays in the conversation it is sent: a
 * search_knowledge result in the history, the passages put before the model for this turn's answer (they serve every
 * tool round of the answer). A document the company deletes or replaces mid-call must not go on being quoted from
 * those. So every passage shown carries the document version it came from (PassageSource), and before each LLM
 * request one read asks which of the shown documents still answer with that version (knowledge/repo.ts
 * currentDocumentVersions: one indexed query, only when the call has been shown passages at all — nothing per
 * audio frame or token). A version found gone is gone for good (a deleted document never returns; a replaced
 * version never answers again), so the request is sent with:
 *  - each tool result without its withdrawn passages, and a note that they were withdrawn (the stored history keeps
 *    the result: it is redacted in the copy sent, so rewrites of a result — a say marked as heard — cannot restore
 *    it);
 *  - this turn's passages without the withdrawn ones;
 *  - a note, while anything shown in the call has been withdrawn, that facts said earlier from such documents must
 *    not be repeated (the model's own earlier words may quote them).
 * A check that fails or runs past its budget (the database is slow) changes nothing: the versions known gone stay
 * out, the rest are sent as they were last known — the answer is not held for it.
 */
import type { ChatMessage } from '../providers/types.js';
import { boundedRead } from '../util/bounded-read.js';
import { DocumentContacts } from './copied-contacts.js';
import type { PassageSource, ToolPassages } from './tool-types.js';

/** The shown documents that answer now, by id, with their current generation; a deleted one is missing. */
export type CurrentVersions = (documentIds: readonly string[]) => Promise<ReadonlyMap<string, number>>;

/** The most one check keeps the caller waiting before the request goes on with what was last known. */
export const PASSAGE_CHECK_BUDGET_MS = 500;

/** What a tool result whose passages were withdrawn tells the model in their place. */
export const WITHDRAWN_RESULT_NOTE =
  'Some passages this result showed came from documents the company has since removed or replaced: they are left out. ' +
  'Do not use or repeat what they said.';

const key = (s: PassageSource): string => `${s.documentId}:${s.generation}`;

export class ShownPassages {
  /** Tool results in the history that show passages (the history's own message objects). */
  private readonly results = new WeakMap<object, ToolPassages>();
  /** Every document version shown in this call: document id → generations. */
  private readonly shown = new Map<string, Set<number>>();
  /** Versions found withdrawn (`id:generation`). */
  private readonly gone = new Set<string>();
  /** The phone numbers and emails of every passage shown (copied-contacts.ts: a tool may not act on them unasked). */
  readonly contacts = new DocumentContacts();

  constructor(private readonly current: CurrentVersions, private readonly budgetMs = PASSAGE_CHECK_BUDGET_MS) {}

  /** A tool result (`place`, its message in the history) shows these passages. */
  noteResult(place: { content: string }, passages: ToolPassages): void {
    this.results.set(place, passages);
    this.contacts.note(place.content);
    this.noteShown(passages.sources);
  }

  /** The model is shown passages of these document versions (with their text, when it is not in a tool result). */
  noteShown(sources: readonly (PassageSource & { text?: string })[]): void {
    for (const s of sources) {
      if (s.text) this.contacts.note(s.text);
      let generations = this.shown.get(s.documentId);
      if (!generations) this.shown.set(s.documentId, (generations = new Set()));
      generations.add(s.generation);
    }
  }

  /** Something shown in this call has been withdrawn since (the model may have said it). */
  get anyWithdrawn(): boolean {
    return this.gone.size > 0;
  }

  isWithdrawn(source: PassageSource): boolean {
    return this.gone.has(key(source));
  }

  /** The shown documents with a version not yet known withdrawn: what a check reads. */
  private unchecked(): string[] {
    return [...this.shown.entries()].filter(([id, gens]) => [...gens].some((g) => !this.gone.has(`${id}:${g}`))).map(([id]) => id);
  }

  /**
   * Whether a check has anything to read. The caller awaits check() only then: a call never shown passages (most
   * calls) sends its request in the same tick as before, so a turn the caller interrupts at once still goes out.
   */
  get needsCheck(): boolean {
    return this.shown.size > 0 && this.unchecked().length > 0;
  }

  /** One read of which shown documents still answer, and with which version; skipped when nothing is left to check. */
  async check(signal?: AbortSignal): Promise<void> {
    const ids = this.unchecked();
    if (ids.length === 0) return;
    let now: ReadonlyMap<string, number>;
    try {
      now = await boundedRead(() => this.current(ids), this.budgetMs, signal);
    } catch {
      return;
    }
    for (const id of ids) for (const g of this.shown.get(id)!) if (now.get(id) !== g) this.gone.add(`${id}:${g}`);
  }

  /** `passages` without those whose documents were withdrawn. */
  live<T extends PassageSource>(passages: readonly T[]): T[] {
    return this.gone.size === 0 ? [...passages] : passages.filter((p) => !this.isWithdrawn(p));
  }

  /** The messages as the model may see them now: tool results without their withdrawn passages (a copy if any). */
  redact(messages: ChatMessage[]): ChatMessage[] {
    if (this.gone.size === 0) return messages;
    let out: ChatMessage[] | null = null;
    for (const [i, m] of messages.entries()) {
      const passages = m.role === 'tool' ? this.results.get(m) : undefined;
      if (!passages) continue;
      const withdrawn = passages.sources.map((s) => this.isWithdrawn(s));
      if (!withdrawn.includes(true)) continue;
      const kept = passages.without((index) => withdrawn[index] === true);
      const fields = typeof kept === 'object' && kept !== null && !Array.isArray(kept) ? kept : { result: kept ?? null };
      out ??= [...messages];
      out[i] = { ...m, content: JSON.stringify({ ...fields, withdrawn: WITHDRAWN_RESULT_NOTE }) };
    }
    return out ?? messages;
  }
}
