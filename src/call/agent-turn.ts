/**
 * One agent turn: optional retrieval → LLM stream → phrases → playback, with a bounded tool loop.
 * Everything runs under the turn's AbortSignal; on barge-in the caller of this function aborts it.
 * Tool rounds are appended to `history` when their calls are made (their effects are real), before the tools run:
 * a tool the caller spoke over still finishes, its result fills its place, and the next turn waits for it. The
 * final answer text is returned, and the session decides how much of it was heard; the rounds are recorded in
 * `toolRounds`, which the session settles to what was heard if the turn is stopped before it played out.
 */
import type { ChatMessage, LlmProvider, ToolCall } from '../providers/types.js';
import { isRetryable } from '../errors.js';
import { boundedRead, markTurnSlow, ReadTimedOut } from '../util/bounded-read.js';
import { allowContactsIn, checkPhrase, speakableText, type SafeSpeechContext, type SafeSpeechReason } from '../safety/safe-speech.js';
import type { HistoryWindow } from './history-window.js';
import type { PromptPassage } from '../knowledge/retrieve.js';
import { contactFromDocuments, copiedContactRefusal } from './copied-contacts.js';
import { turnKnowledge } from './knowledge-frame.js';
import type { Playback } from './playback.js';
import { SentenceChunker } from './sentence-chunker.js';
import type { ToolRegistry } from './tool-registry.js';
import { SpokenToolRounds, toolResultContent, type UnheardSay } from './tool-rounds.js';
import type { CallContext, CallControl, ToolResult } from './tool-types.js';
import type { Clock } from './types.js';

export class LlmFailure extends Error {
  constructor(override readonly cause: unknown) {
    super(`LLM failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'LlmFailure';
  }
}

export interface AgentTurnOptions {
  llm: LlmProvider;
  tools: ToolRegistry;
  context: CallContext;
  control: CallControl;
  system: string;
  /** The call's whole history; the turn's tool rounds are appended to it. */
  history: ChatMessage[];
  /** Which part of `history` each LLM request carries (default: all of it). */
  historyWindow?: HistoryWindow | undefined;
  /** The caller's words this turn answers (retrieval query). */
  userText: string;
  /** The company passages for the caller's words (each with the document version it came from). */
  retrieveContext?: ((text: string, signal: AbortSignal) => Promise<readonly PromptPassage[] | null>) | undefined;
  /** How long the answer waits for retrieveContext at most. Default RETRIEVAL_BUDGET_MS. */
  retrievalBudgetMs?: number;
  playback: Playback;
  /**
   * Where the turn's tool rounds and their says are recorded, by the phrases of `playback` that said them: the turn
   * outlives this function (its audio plays on), and whoever stops it settles them to what was heard
   * (SpeakingTurn.toolRounds; default: a record nobody settles).
   */
  toolRounds?: SpokenToolRounds | undefined;
  signal: AbortSignal;
  clock: Clock;
  maxToolRounds?: number;
  /** The most the turn's tools may take in all before the answer goes on without them. Default TOOL_DEADLINE_MS. */
  toolDeadlineMs?: number;
  /**
   * The most the caller waits in silence for an answer to start, across every attempt of a round (the LLM
   * adapters' own connection retries included: the budget aborts them). Default FIRST_TOKEN_BUDGET_MS.
   */
  firstTokenBudgetMs?: number;
  /**
   * The most the caller waits in silence between two events of a stream that has started (a stalled connection
   * after the first words): the attempt is cut and fails like a dropped connection — the whole phrases said stand,
   * the fragment after them is not spoken, the turn ends; cut inside a tool call, the round is asked again once.
   * Default STREAM_IDLE_MS.
   */
  streamIdleMs?: number;
  onRetrieval?: (ms: number) => void;
  onFirstToken?: () => void;
  /** A phrase was handed to playback (the first one marks the TTS start for latency). */
  onPhrase?: () => void;
  /**
   * Checks every phrase of LLM text before it is spoken (src/safety/safe-speech.ts): unsafe text is never spoken,
   * a fixed fallback is. Knowledge and tool results of this turn widen what may be read back.
   */
  safeSpeech?: SafeSpeechContext | undefined;
}

export interface UnsafePhrase {
  reason: SafeSpeechReason;
  detail?: string;
}

export interface AgentTurnResult {
  /** Everything the agent said this turn, in order. */
  text: string;
  /** What was said after the last tool round: the assistant message that closes the turn in the history. */
  finalText: string;
  /** Tool names called, in order. */
  toolsCalled: string[];
  /** Phrases the safe-speech check changed or refused (never spoken as the LLM wrote them). */
  unsafe: UnsafePhrase[];
  /** An answer of this turn stopped at LIVE_ANSWER_MAX_TOKENS (the words after its last whole phrase unsaid). */
  cutAtTokenLimit: boolean;
}

/** The most a caller waits for the company's documents before the answer goes on without them. */
export const RETRIEVAL_BUDGET_MS = 1500;

/**
 * How long a caller may wait in silence for a failing or slow LLM before the call apologises: one retry fits in
 * it when the first attempt fails fast; a hung attempt is cut at the budget.
 */
export const FIRST_TOKEN_BUDGET_MS = 6000;

/** A streaming LLM sends tokens every few tens of ms; this long without one is a stalled stream, not a slow one. */
export const STREAM_IDLE_MS = 6000;

/**
 * The most one LLM answer of a live turn may write. A spoken answer is a few sentences (~50-150 tokens) and a tool
 * call's arguments fewer; this leaves room for both (and for a reasoning model's thoughts, which count too) while a
 * model stuck repeating itself stops after ~2 minutes of speech instead of talking, and billing, until the call's
 * maximum duration. An answer cut here ends like a stream that broke: the whole phrases are said, not the fragment.
 * The session logs the cut (once per turn), and an answer it leaves with nothing said gets the no-answer line.
 */
export const LIVE_ANSWER_MAX_TOKENS = 600;

/**
 * How long an answer waits for the tools of an earlier answer the caller spoke over ("One moment…" while a booking
 * was being made) before it goes on without their results. Tools take well under a second; one still running after
 * this is stuck, and the caller should not sit in silence for it.
 */
export const EARLIER_TOOLS_WAIT_MS = 5000;

/**
 * The most the tools of one turn may take in all (a lookup or a booking takes well under a second; a database
 * query gives up after 5 s on its own). Past it the answer goes on: the tool still running gets TOOL_TIMED_OUT as
 * its result, for the model to tell the caller ("I can't look that up right now"), the turn's later tool calls are
 * not run, and the caller hears an answer instead of waiting out a stalled database or service in silence. The
 * tool itself is not stopped (a booking cannot be un-made): its result, when it comes, takes the place in the
 * history, marked as not yet told to the caller.
 */
export const TOOL_DEADLINE_MS = 8000;
const TOOL_TIMED_OUT = JSON.stringify({
  error: 'timed_out',
  message: 'No answer in time, so the outcome is not known. Tell the caller you cannot do or look this up right now, do not call a tool again in this answer, and offer another way (for example a call back).',
});
const TIMED_OUT = Symbol('timed out');

/** `work`'s result, or TIMED_OUT after `ms` (the work goes on). */
function within<T>(work: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

/** A tool result's place in the history while the tool runs (seen by the LLM only past EARLIER_TOOLS_WAIT_MS). */
const TOOL_STILL_RUNNING = JSON.stringify({ status: 'still_running', note: 'the caller spoke again before this tool finished; its result is not known yet' });
/** The result of a call the turn was cut before making. */
const TOOL_NOT_RUN = JSON.stringify({ error: 'interrupted' });

/**
 * Tool rounds still running, by the history they were recorded in (one per call). A turn the caller interrupts does
 * not stop its tools (a booking cannot be un-made, and a half-made one is worse): the next answer waits for them
 * here, so the model answering the interruption knows what was done.
 */
const toolRoundsRunning = new WeakMap<ChatMessage[], Promise<void>>();

function trackToolRound(history: ChatMessage[], round: Promise<void>): void {
  const before = toolRoundsRunning.get(history);
  const all = before ? Promise.all([before, round]).then(() => {}) : round;
  toolRoundsRunning.set(history, all);
  void all.then(() => {
    if (toolRoundsRunning.get(history) === all) toolRoundsRunning.delete(history);
  });
}

/** Resolves when the history's running tool rounds have filled in their results, after `ms` at most, or on abort. */
function earlierToolRounds(history: ChatMessage[], ms: number, signal: AbortSignal): Promise<void> | null {
  const running = toolRoundsRunning.get(history);
  if (!running) return null;
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    void running.then(done);
  });
}

export async function runAgentTurn(o: AgentTurnOptions): Promise<AgentTurnResult> {
  const { signal, playback } = o;
  const maxRounds = o.maxToolRounds ?? 4;
  // Started now, so that the wait overlaps retrieval.
  const earlierTools = earlierToolRounds(o.history, EARLIER_TOOLS_WAIT_MS, signal);
  /**
   * Retrieved knowledge for this turn only (LlmRequest.context: outside the cached front of the prompt), formatted
   * for each request without the passages whose documents were withdrawn since (shown-passages.ts).
   */
  let passages: readonly PromptPassage[] = [];
  const shown = o.context.passages;
  let safe = o.safeSpeech;
  const unsafe: UnsafePhrase[] = [];
  if (o.retrieveContext) {
    const t0 = o.clock.now();
    // Bounded: a database that has gone away (postgres.js waits 10-25 s per query to reconnect) or a slow
    // embedder must not hold the caller in silence; past the budget the answer goes on without the documents.
    const retrieve = o.retrieveContext;
    try {
      passages = (await boundedRead((s) => retrieve(o.userText, s), o.retrievalBudgetMs ?? RETRIEVAL_BUDGET_MS, signal)) ?? [];
      shown?.noteShown(passages);
      if (passages.length > 0 && safe) safe = allowContactsIn(safe, passages.map((p) => p.text).join('\n'));
    } catch (err) {
      // Retrieval is an aid: answer without it rather than fail the turn — and without a second wait for the same
      // slow store if the model then asks the search_knowledge tool (bounded-read.ts).
      if (err instanceof ReadTimedOut) markTurnSlow(signal);
    }
    o.onRetrieval?.(o.clock.now() - t0);
  }
  if (earlierTools) await earlierTools;

  const spoken: string[] = [];
  const toolsCalled: string[] = [];
  const rounds = o.toolRounds ?? new SpokenToolRounds();
  /** When the turn's tools are out of time (TOOL_DEADLINE_MS from the first tool call); null before it. */
  let toolsDueAt: number | null = null;
  let cutAtTokenLimit = false;
  let finalStart = 0;
  let firstToken = true;
  const speak = (phrase: string): void => {
    spoken.push(phrase.trim());
    o.onPhrase?.();
    playback.say(phrase);
  };
  /**
   * LLM text goes through the safe-speech check. Formatting is stripped and the rest spoken; any other refusal
   * speaks the fixed fallback once and drops the rest of that round's text (the stream is still read for tool
   * calls), and the history keeps the fallback, so the model does not build on what was refused.
   */
  let refusedThisRound = false;
  const speakLlm = (phrase: string): string => {
    if (refusedThisRound) return '';
    if (!safe) {
      speak(phrase);
      return phrase;
    }
    const verdict = checkPhrase(phrase, safe);
    if (verdict.ok) {
      speak(phrase);
      return phrase;
    }
    unsafe.push({ reason: verdict.reason, ...(verdict.detail ? { detail: verdict.detail } : {}) });
    if (verdict.reason !== 'formatting') refusedThisRound = true;
    if (verdict.replacement) speak(verdict.replacement);
    return verdict.replacement;
  };

  for (let round = 0; round < maxRounds && !signal.aborted; round++) {
    const done = await answerRound();
    if (done) break;
  }
  return { text: spoken.join(' '), finalText: spoken.slice(finalStart).join(' '), toolsCalled, unsafe, cutAtTokenLimit };

  /** One LLM answer and the tools it called; true when the turn is over. */
  async function answerRound(): Promise<boolean> {
    const roundFrom = playback.phraseCount;
    const spokenFrom = spoken.length;
    let chunker = new SentenceChunker();
    const calls: ToolCall[] = [];
    let roundText = '';
    /** What the caller actually hears of this round (after the safe-speech check): the history keeps this. */
    let roundSaid = '';
    refusedThisRound = false;
    // One budget for the round's first token, shared by its attempts: the loop retries once, never beyond it (an
    // attempt broken inside a tool call gives its one retry a budget of its own, below).
    const budgetMs = o.firstTokenBudgetMs ?? FIRST_TOKEN_BUDGET_MS;
    // What the company's documents say now: one check per LLM request of a call shown passages (shown-passages.ts).
    if (shown?.needsCheck) {
      await shown.check(signal);
      if (signal.aborted) return true;
    }
    const context = turnKnowledge(shown ? shown.live(passages) : passages, shown?.anyWithdrawn ?? false);
    let roundStart = o.clock.now();
    /** The stream failed (stalled, dropped) after some of the answer had come. */
    let brokeMidAnswer = false;
    /** The answer reached LIVE_ANSWER_MAX_TOKENS: it ends like a stream that broke. */
    let cutAtLimit = false;
    /** The model began a tool call in this attempt (LlmEvent tool_call_start). */
    let toolCallBegun = false;
    /** An attempt of this round broke inside a tool call and was asked again (once a round). */
    let retriedCutToolCall = false;
    /** The phrases an attempt broken inside its tool call said: its retry does not say them to the caller again. */
    let alreadyHeard: string[] = [];
    const speakRound = (phrase: string): string => {
      if (alreadyHeard[0] === phrase.trim()) {
        alreadyHeard.shift();
        return phrase;
      }
      alreadyHeard = [];
      return speakLlm(phrase);
    };
    for (let attempt = 0; ; attempt++) {
      const attemptAbort = new AbortController();
      const onTurnAbort = () => attemptAbort.abort();
      signal.addEventListener('abort', onTurnAbort, { once: true });
      let waiting = true;
      const budget = setTimeout(() => {
        if (waiting) attemptAbort.abort(new Error(`no answer from the LLM within ${budgetMs} ms`));
      }, Math.max(0, budgetMs - (o.clock.now() - roundStart)));
      // Armed at the first event and refreshed at each one after (no allocation per token).
      let idle: NodeJS.Timeout | null = null;
      /** The stream said `done`: the answer is whole, however its attempt ends. */
      let finished = false;
      try {
        const window = o.historyWindow ? o.historyWindow.of(o.history) : o.history;
        const messages = shown ? shown.redact(window) : window;
        for await (const ev of o.llm.stream({ system: o.system, messages, ...(context ? { context } : {}), tools: o.tools.specs(), maxTokens: LIVE_ANSWER_MAX_TOKENS, signal: attemptAbort.signal })) {
          if (signal.aborted) break;
          waiting = false;
          if (idle) idle.refresh();
          else {
            const idleMs = o.streamIdleMs ?? STREAM_IDLE_MS;
            idle = setTimeout(() => attemptAbort.abort(new Error(`the LLM stream stalled for ${idleMs} ms`)), idleMs);
          }
          if (ev.type === 'text') {
            if (!ev.text) continue;
            if (firstToken) {
              firstToken = false;
              o.onFirstToken?.();
            }
            roundText += ev.text;
            for (const phrase of chunker.push(ev.text)) roundSaid += `${speakRound(phrase)} `;
          } else if (ev.type === 'tool_call_start') toolCallBegun = true;
          else if (ev.type === 'tool_call') calls.push(ev.call);
          else if (ev.type === 'done') {
            finished = true;
            if (ev.finishReason === 'length') cutAtLimit = true;
          }
        }
        // An adapter ends an aborted stream quietly. Cut by this attempt's own timers (the first-token budget, the
        // stall timer) and not by the turn's stop, it failed, wherever it was: like a dropped connection.
        if (!finished && attemptAbort.signal.aborted && !signal.aborted) throw attemptAbort.signal.reason;
        // A stream that ended without `done` and unaborted is as broken: its tool calls may not be all it meant.
        if (!finished && !signal.aborted && (toolCallBegun || calls.length > 0)) throw new Error('the LLM stream ended inside its tool calls');
        break;
      } catch (err) {
        if (signal.aborted) break;
        // Broken inside the round's tool calls — in the first or a later one, some perhaps already whole: the words
        // before them ("Let me check that for you.") promise what never came, and the calls that did come are only
        // part of what the model meant to do (two bookings, the second lost). None of them is run: the round is
        // asked again once, whole, with a first-token budget of its own, not repeating what was heard; a second
        // break is a failed LLM (the session apologises), never a promise left hanging nor a partial set run as if
        // it were all. Asking again never runs a tool twice: a round's tools run only once its stream is whole
        // (below), so no call of a broken attempt has run — its calls are dropped and the retry's run instead.
        if (toolCallBegun || calls.length > 0) {
          if (retriedCutToolCall || !isRetryable(err)) throw new LlmFailure(err);
          retriedCutToolCall = true;
          alreadyHeard = spoken.slice(spokenFrom);
          chunker = new SentenceChunker();
          roundText = '';
          roundSaid = '';
          toolCallBegun = false;
          calls.length = 0;
          roundStart = o.clock.now();
          continue;
        }
        // Retry once if nothing was said yet and the budget has room; a stream that breaks mid-answer keeps
        // what was said.
        if (roundText) {
          brokeMidAnswer = true;
          break;
        }
        const outOfBudget = o.clock.now() - roundStart >= budgetMs || attemptAbort.signal.aborted;
        // An error the adapter marked as final (a rejected key, a malformed request) is not tried again.
        if (attempt >= 1 || outOfBudget || !isRetryable(err)) throw new LlmFailure(err);
      } finally {
        clearTimeout(budget);
        if (idle) clearTimeout(idle);
        signal.removeEventListener('abort', onTurnAbort);
      }
    }
    if (signal.aborted) {
      playback.noteUnspoken(chunker.flush());
      return true;
    }
    // The words after the last whole phrase of a stream that broke or hit the token limit are a fragment ("…at six
    // pm today. On"): not spoken. The caller has heard the whole phrases before it and may ask again.
    const rest = chunker.flush();
    if (rest && !brokeMidAnswer && !cutAtLimit) roundSaid += speakLlm(rest);
    if (cutAtLimit) cutAtTokenLimit = true;
    if (calls.length === 0) return true;

    // The round enters the history now, before its tools run, results in their places: a caller who speaks over
    // "One moment…" while a booking is made must not have their words land before the call that made it.
    const message: ChatMessage = { role: 'assistant', content: unsafe.length ? roundSaid.trim() : roundText, toolCalls: calls };
    // Every tool call needs a result in the history (OpenAI rejects a call without one), even when cut off.
    const results = calls.map((call): ChatMessage => ({ role: 'tool', toolCallId: call.id, name: call.name, content: TOOL_STILL_RUNNING }));
    o.history.push(message, ...results);
    rounds.round(message, roundFrom, playback.phraseCount);
    const says: UnheardSay[] = [];
    toolsDueAt ??= Date.now() + (o.toolDeadlineMs ?? TOOL_DEADLINE_MS);
    const dueAt = toolsDueAt;
    const runTools = async (): Promise<void> => {
      for (const [i, call] of calls.entries()) {
        const place = results[i]!;
        if (signal.aborted) {
          place.content = TOOL_NOT_RUN;
          continue;
        }
        if (Date.now() >= dueAt) {
          place.content = TOOL_TIMED_OUT;
          continue;
        }
        // A contact a document showed and the caller never gave is not acted on (copied-contacts.ts).
        const copied = shown && call.invalidArguments === undefined && !o.tools.lookupOnly(call.name)
          ? contactFromDocuments(call.arguments, shown.contacts, o.history, o.context.callerNumber)
          : null;
        if (copied) {
          place.content = copiedContactRefusal(copied);
          continue;
        }
        toolsCalled.push(call.name);
        // Arguments the model garbled are its slip: an error result it can correct, as for any mis-called tool.
        const running: Promise<ToolResult> = call.invalidArguments !== undefined
          ? Promise.resolve({ content: { error: 'invalid_arguments', message: call.invalidArguments } })
          : o.tools.call(call.name, call.arguments, o.context, o.control, signal);
        const result = await within(running, dueAt - Date.now());
        if (result === TIMED_OUT) {
          place.content = TOOL_TIMED_OUT;
          // Done after all (a booking made late): the history says so, and that the caller was not told.
          void running.then((late) => {
            if (place.content !== TOOL_TIMED_OUT) return;
            place.content = toolResultContent(late, true);
            if (late.passages) shown?.noteResult(place, late.passages);
          }, () => {});
          continue;
        }
        place.content = toolResultContent(result, signal.aborted);
        if (result.passages) shown?.noteResult(place, result.passages);
        if (safe) safe = allowContactsIn(safe, place.content);
        if (result.say) says.push({ place, result, text: result.say });
      }
      if (signal.aborted) noteSaysUnspoken();
    };
    /**
     * Cut while the tools ran (a noise the bot took for an interruption, a voice that failed): their says are not
     * spoken in this turn, however early they came. They are what the caller has not heard of it — said with its
     * rest if the caller lets it be said (call-session sayRestOf) — and their results read as not told until the
     * turn saying them has played them out.
     */
    const noteSaysUnspoken = (): void => {
      for (const say of says) rounds.sayUnspoken(say);
    };
    const tools = runTools();
    trackToolRound(o.history, tools.catch(() => {}));
    rounds.toolsRunning(tools.catch(() => {}));
    await tools;
    if (signal.aborted) return true;
    finalStart = spoken.length;
    // A tool's `say` is the answer, spoken verbatim; asking the LLM again would repeat it in other words. Its result
    // reads as told; if the turn is stopped before the say plays out, settling the rounds says otherwise.
    if (says.length > 0) {
      for (const say of says) speakToolSay(say, playback, rounds, speak);
      return true;
    }
    return false;
  }
}

/**
 * Speaks (what is left of) a tool's say, phrase by phrase, and records it with the turn's tool rounds by the phrases
 * that say it: its result reads as told once they are heard whole (SpokenToolRounds).
 */
export function speakToolSay(s: UnheardSay, playback: Playback, rounds: SpokenToolRounds, speak = (phrase: string) => playback.say(phrase)): void {
  const from = playback.phraseCount;
  for (const phrase of splitForSpeech(s.text)) speak(phrase);
  rounds.say(s.place, s.result, from, playback.phraseCount);
}

/**
 * Fixed text (greeting, tool `say`, the session's lines) as phrases, so marks track it sentence by sentence; without
 * the markdown, URLs and emoji a voice would read out (speakableText: the greeting is the company's to write).
 */
export function splitForSpeech(text: string): string[] {
  const chunker = new SentenceChunker({ firstMinChars: 1, minChars: 1, splitClauses: false });
  const out = chunker.push(speakableText(text) + ' ');
  const rest = chunker.flush();
  if (rest) out.push(rest);
  return out;
}
