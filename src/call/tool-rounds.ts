/**
 * An agent answer's tool rounds as the LLM history holds them. A round enters the history when its calls are made
 * (agent-turn.ts), with the words said before them in full, and a tool's `say` is spoken once its result is in
 * place. But the answer's audio plays on after the answer is written: the caller may cut "One moment…" or the say
 * long after runAgentTurn has returned, and a voice that fails mid-turn is noticed only then. So the records stay
 * with the turn (SpeakingTurn.toolRounds) — each round's message and the range of the turn's phrases it said, each
 * say's result and its phrases — and are settled to what the caller heard whenever the turn is stopped before it
 * played out (Conversation, with the rest of the stopped turn's record). A say the caller did not hear whole goes
 * with the rest of its turn when that is said (call-session sayRestOf), and its result reads as told once the turn
 * that says it has played it out.
 */
import type { Playback } from './playback.js';
import type { ToolResult } from './tool-types.js';

/** How a stopped turn is kept: as heard ("…" and all), or only its whole phrases (its rest is said again). */
export type StoppedTurnKept = 'as heard' | 'whole phrases';

interface RoundRecord {
  message: { content: string };
  /** The turn's phrases [from, to) are the round's words. */
  from: number;
  to: number;
}

/** A tool's say the caller has not heard whole, with its result: said with the rest of its cut turn. */
export interface UnheardSay {
  /** The result's message in the history. */
  place: { content: string };
  result: ToolResult;
  /** What is left of the say: its phrases not heard whole, or all of it when it was never spoken. */
  text: string;
}

/** What is left to say of a cut turn: its words the caller did not hear whole, then its says not heard whole. */
export interface TurnRest {
  words: string;
  says: UnheardSay[];
}

interface SayRecord {
  /** The result's message in the history. */
  place: { content: string };
  result: ToolResult;
  /** The turn's phrases [from, to) are the say. */
  from: number;
  to: number;
}

export class SpokenToolRounds {
  private readonly rounds: RoundRecord[] = [];
  private readonly says: SayRecord[] = [];
  /** Says of tools that were done after the turn was cut: never spoken in it (agent-turn.ts). */
  private readonly unspoken: UnheardSay[] = [];
  /** The answer's tools while they run: a say of theirs is known only once they are done. */
  private running: Promise<void> | null = null;

  /** The answer's tools are running until `done` settles (all returned, or out of time). */
  toolsRunning(done: Promise<void>): void {
    const settled: Promise<void> = done.then(() => {
      if (this.running === settled) this.running = null;
    });
    this.running = settled;
  }

  /**
   * Resolves once the answer's tools are done; null when none runs. The rest of a cut answer waits for it: a say
   * that comes after the cut is part of what the caller has not heard (agent-turn.ts notes it unspoken).
   */
  get toolsDone(): Promise<void> | null {
    return this.running;
  }

  /** The turn's phrases before this index are in the history already, with a round's calls. */
  get phrasesInHistory(): number {
    return this.rounds.at(-1)?.to ?? 0;
  }

  /** A round's assistant message, now in the history, said the turn's phrases [from, to). */
  round(message: { content: string }, from: number, to: number): void {
    this.rounds.push({ message, from, to });
  }

  /**
   * A tool result in the history whose say is the turn's phrases [from, to). It reads as told if the caller heard
   * them whole, as settled when the turn ends (settle, playedOut): an answer's own say is written told as it is
   * queued; one carried from a cut turn still reads not told, as that turn was settled.
   */
  say(place: { content: string }, result: ToolResult, from: number, to: number): void {
    this.says.push({ place, result, from, to });
  }

  /** Cut while its tool ran: the result reads not told, and its say is left for the rest of the turn (rest). */
  sayUnspoken(say: UnheardSay): void {
    say.place.content = toolResultContent(say.result, true);
    this.unspoken.push(say);
  }

  /**
   * What is left to say of the turn, cut before it played out: the words the caller did not hear whole, then each
   * say not heard whole, so that the turn saying the rest records it (say) and it reads as told once heard. A
   * turn's says are its last words (the answer ends with them).
   */
  rest(playback: Playback): TurnRest {
    const saysFrom = this.says[0]?.from ?? playback.phraseCount;
    const spokenSays = this.says
      .filter((s) => !playback.heardWhole(s.from, s.to))
      .map((s): UnheardSay => ({ place: s.place, result: s.result, text: playback.unheardText(s.from, s.to) }));
    return { words: playback.unheardText(0, saysFrom), says: [...spokenSays, ...this.unspoken] };
  }

  /** The turn played out: each say reads as told if the caller heard it whole. */
  playedOut(playback: Playback): void {
    this.settleSays(playback);
  }

  /**
   * The turn was stopped before it played out. Each round's message keeps what the caller heard of its words, as the
   * rest of the turn is kept (`keep`), so a phrase said again is in the history once: with the turn that says it in
   * full. A result whose say the caller did not hear whole says so (not_yet_told_to_caller): the model answering
   * the interruption must not believe the caller knows. One heard whole (said again after a cut) reads as told.
   */
  settle(playback: Playback, keep: StoppedTurnKept): void {
    for (const r of this.rounds) r.message.content = keep === 'whole phrases' ? playback.heardText(r.from, r.to) : playback.heardTranscript(r.from, r.to);
    this.settleSays(playback);
  }

  /** Each say's result reads as told or not, by whether the caller heard its phrases whole. */
  private settleSays(playback: Playback): void {
    for (const s of this.says) s.place.content = toolResultContent(s.result, !playback.heardWhole(s.from, s.to));
  }
}

/**
 * A tool result as the history keeps it. A `say` the caller never heard (the turn was cut while the tool ran, or
 * before the say played out) goes with it, so the model answering the interruption tells the caller what was done
 * (a booking made) rather than going on as if nothing was.
 */
export function toolResultContent(result: ToolResult, sayUnheard: boolean): string {
  if (!sayUnheard || !result.say) return JSON.stringify(result.content ?? null);
  const c = result.content;
  const fields = typeof c === 'object' && c !== null && !Array.isArray(c) ? c : { result: c ?? null };
  return JSON.stringify({ ...fields, not_yet_told_to_caller: result.say });
}
