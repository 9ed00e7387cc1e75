/**
 * The caller's side of the conversation: what they have said so far (STT events), whether they are speaking
 * (VAD), when they are done (end-of-turn rules), and whether their speech over the bot is a real interruption
 * (enough words, or sustained speech) rather than a cough or an "uh-huh".
 *
 * End of turn: once the caller is quiet (VAD end of speech; without a VAD, the recognizer's final) the end-of-turn
 * model (end-of-turn.ts) judges the recognizer's final words, the pitch of the last voiced audio (read once per end
 * of speech, and only where the words leave it a say) and the recognizer's confidence: a complete sentence closes
 * after `endOfTurnCompleteWaitMs` from the end of speech, an uncertain one (reads complete, does not sound it)
 * after UNCERTAIN_SHARE of `endOfTurnMaxWaitMs`, an unfinished one ("I'd like to book for…", "um", "и", "на",
 * digits being dictated) after `endOfTurnMaxWaitMs`. A new onset cancels the wait. The recognizer's final is
 * always waited for (a little longer than the rule, at most RECOGNIZER_GRACE_MS), since the text decides.
 */
import type { Language, SttEvent } from '../providers/types.js';
import { ruleEndOfTurn, UNCERTAIN_SHARE, type EndOfTurnModel, type EndOfTurnVerdict } from './end-of-turn.js';
import type { ProsodyFeatures } from './prosody.js';
import { meaningfulWordCount } from './session-phrases.js';
import type { Clock } from './types.js';

export interface CallerUtterance {
  text: string;
  /** When the utterance was judged finished (the endpoint decision). */
  closedAt: number;
  /** End of speech → decision. */
  endpointMs: number | null;
  /** Caller speech onset (VAD or the recognizer's speech start). */
  speechStartedAt: number | null;
  /** End of speech: the last voiced audio (VAD), or the last words recognised. */
  speechEndedAt: number | null;
  /** The recognizer's final for the utterance. */
  sttFinalAt: number | null;
  /** The end-of-turn rules that decided. */
  rule: string;
  /** The end-of-turn model's score (0–1; see end-of-turn.ts). */
  score: number;
}

/** Reads the pitch of the caller's audio that ended at clock time `endAt` (caller-audio-tail.ts). */
export type ProsodyReader = (endAt: number) => ProsodyFeatures | null;

export interface BargeInLimits {
  bargeInMinMs: number;
  bargeInMinWords: number;
}

export interface TurnTakingLimits extends BargeInLimits {
  /** Wait after the end of a complete sentence. Default 0 (the VAD's 200 ms of silence is the wait). */
  endOfTurnCompleteWaitMs?: number;
  /** Longest wait after the end of an unfinished sentence. Default 1500. */
  endOfTurnMaxWaitMs?: number;
}

export type EndOfTurnCheck = { close: CallerUtterance } | { waitMs: number } | null;

/**
 * How long past the rule's wait the recognizer's final is awaited before closing on the words at hand (the caller's
 * audio tail keeps enough audio for the pitch to be read this late: caller-audio-tail.ts).
 */
export const RECOGNIZER_GRACE_MS = 2500;

export class CallerTurnTracker {
  private finals: string[] = [];
  private interim = '';
  speechStartedAt: number | null = null;
  lastWordsAt: number | null = null;
  /** Counts events that brought new words, so callers can tell "something new was said". */
  wordEvents = 0;
  /** A VAD reports this call's speech (otherwise the recognizer's events stand in for it). */
  hasVoice = false;
  /** The caller is speaking (VAD). */
  inSpeech = false;
  private voiceStartedAt: number | null = null;
  private voiceEndedAt: number | null = null;
  /** The recognizer has finalised everything said so far (endOfUtterance final or utterance_end). */
  private sttDoneAt: number | null = null;
  /** Segments a segmenting recognizer announced (speech_started) and has not yet answered with a final. */
  private unanswered = 0;
  /**
   * The recognizer session that heard the words so far was lost before it finalised them, and the one now open has
   * not spoken since: without a VAD nothing else says the caller stopped, so the grace decides (see sessionLost).
   */
  private wordsOfLostSession = false;
  private sttFinalAt: number | null = null;
  /** The recognizer's confidence in its last final, where it reports one. */
  private confidence: number | null = null;
  /** The pitch of the audio before the latest VAD end of speech: undefined until first needed. */
  private prosody: ProsodyFeatures | null | undefined = undefined;
  /** The end of speech being judged (what prosodyOfJudgedEnd reads). */
  private judgedEndAt = 0;

  constructor(
    private readonly limits: TurnTakingLimits,
    private readonly clock: Clock,
    private readonly language: Language = 'en',
    private readonly model: EndOfTurnModel = ruleEndOfTurn,
    private readonly readProsody: ProsodyReader | null = null,
  ) {}

  /** Feeds one recognizer event. */
  handle(ev: SttEvent): void {
    const now = this.clock.now();
    switch (ev.type) {
      case 'speech_started':
        // A new burst after noise that produced no words starts the clock again.
        if (!this.hasVoice && (!this.hasWords || this.speechStartedAt === null)) this.speechStartedAt = now;
        // The recognizer owes a final for this speech: the turn is not judged on the words before it.
        if (ev.segmented) {
          this.unanswered++;
          this.sttDoneAt = null;
        }
        return;
      case 'interim': {
        const text = ev.text.trim();
        if (text && text !== this.interim) {
          this.lastWordsAt = now;
          this.wordEvents++;
          this.sttDoneAt = null;
          this.wordsOfLostSession = false;
        }
        this.interim = text;
        if (text) this.speechStartedAt ??= now;
        return;
      }
      case 'final': {
        const text = ev.text.trim();
        if (text) {
          // A final repeating the last interim brings no new words: the caller stopped talking back then.
          if (text !== this.interim) this.lastWordsAt = now;
          this.finals.push(text);
          this.wordEvents++;
          this.wordsOfLostSession = false;
          this.speechStartedAt ??= now;
          this.sttFinalAt = now;
          // A confidence is optional on finals: used where the recognizer reports one.
          this.confidence = 'confidence' in ev && typeof ev.confidence === 'number' ? ev.confidence : null;
        }
        this.interim = '';
        if (ev.endOfUtterance) this.answered(now);
        return;
      }
      case 'utterance_end':
        // Deepgram may send UtteranceEnd with words still only interim: keep them.
        if (this.interim) {
          this.finals.push(this.interim);
          this.interim = '';
          this.sttFinalAt = now;
        }
        this.answered(now);
        return;
      case 'unheard':
        // Speech the recognizer could not make out: it has had its say on it (the call asks the caller again).
        this.answered(now);
        return;
      case 'error':
        // stt-connection.ts passes on the failure that ended a session (a reopened one takes over).
        this.sessionLost(now);
        return;
    }
  }

  /**
   * The recognizer session that heard the caller so far is gone (it dropped, failed or ended) and a new one takes
   * over mid-utterance. Its last interim is the best text there will ever be for that audio — the new session is
   * only given what arrived after the loss (stt-connection.ts), so it will not say those words again — and is kept
   * as final: the new session's words follow it in the same turn. Finals the lost session owed will never come.
   * Whether the recognizer has had its say: a caller the VAD heard stop before the loss said everything to the lost
   * session, so it has; one still speaking says the rest to the new session, which answers for it. Without a VAD,
   * the new session's words say the caller goes on, and if none come the grace closes the turn (check()).
   */
  private sessionLost(now: number): void {
    if (this.interim) {
      this.finals.push(this.interim);
      this.interim = '';
      // The recognizer gave no confidence in these words.
      this.confidence = null;
    }
    this.unanswered = 0;
    if (this.sttDoneAt !== null) return;
    if (this.hasVoice && !this.inSpeech) this.sttDoneAt = now;
    else if (!this.hasVoice) this.wordsOfLostSession = this.hasWords;
  }

  /** The recognizer closed a segment: done once it has answered every speech start it announced. */
  private answered(now: number): void {
    if (this.unanswered > 0) this.unanswered--;
    if (this.unanswered === 0) this.sttDoneAt = now;
  }

  /** Feeds a VAD onset or end of speech (clock times). */
  voice(ev: { type: 'onset' | 'end'; at: number }): void {
    this.hasVoice = true;
    this.prosody = undefined;
    if (ev.type === 'onset') {
      this.inSpeech = true;
      this.voiceStartedAt = ev.at;
      this.speechStartedAt ??= ev.at;
    } else {
      this.inSpeech = false;
      this.voiceEndedAt = ev.at;
    }
  }

  /** The text heard so far in the current (unfinished) utterance. */
  get pendingText(): string {
    return [...this.finals, this.interim].filter(Boolean).join(' ');
  }

  get hasWords(): boolean {
    return this.finals.length > 0 || this.interim.length > 0;
  }

  /** The recognizer has had its say on everything so far (a final or utterance end since the last words). */
  get recognizerDone(): boolean {
    return this.sttDoneAt !== null;
  }

  /** How long the current burst of speech has lasted (VAD), 0 when the caller is quiet or there is no VAD. */
  sustainedSpeechMs(): number {
    return this.inSpeech && this.voiceStartedAt !== null ? this.clock.now() - this.voiceStartedAt : 0;
  }

  /** Whether the caller's current speech is enough to interrupt the bot. */
  isInterruption(): boolean {
    if (this.speechStartedAt === null) return false;
    return this.passes(meaningfulWordCount(this.pendingText), this.clock.now() - this.speechStartedAt);
  }

  private passes(words: number, speechMs: number): boolean {
    if (words >= Math.max(1, this.limits.bargeInMinWords)) return true;
    if (this.limits.bargeInMinWords === 0) return speechMs >= this.limits.bargeInMinMs;
    return words >= 1 && speechMs >= this.limits.bargeInMinMs;
  }

  /** The same rule applied to an utterance that has just been closed. */
  isInterruptionUtterance(u: CallerUtterance): boolean {
    return this.passes(meaningfulWordCount(u.text), u.closedAt - (u.speechStartedAt ?? u.closedAt));
  }

  /** When the time criterion could next turn this speech into an interruption (ms from now), or null. */
  msUntilTimeCriterion(): number | null {
    if (this.speechStartedAt === null) return null;
    const left = this.speechStartedAt + this.limits.bargeInMinMs - this.clock.now();
    return left > 0 ? left : null;
  }

  /** End of speech as best known: the VAD's, else the last recognised words. */
  get speechEndedAt(): number | null {
    const v = this.voiceEndedAt;
    if (this.hasVoice && v !== null && !this.inSpeech && (this.speechStartedAt === null || v >= this.speechStartedAt)) return v;
    return this.lastWordsAt;
  }

  /**
   * Is the caller done? `close` with the utterance, `waitMs` to look again (unless something happens first),
   * or null (nothing to decide: no words, the caller is speaking, or the recognizer has the say).
   */
  check(): EndOfTurnCheck {
    const now = this.clock.now();
    if (!this.hasWords) {
      // Speech that the recognizer finalised without words was noise: forget it once the caller is quiet.
      if (this.sttDoneAt !== null && !this.inSpeech) this.reset();
      return null;
    }
    if (this.inSpeech) return null;
    // Without a VAD the recognizer's endpointing says when the caller stopped (a lost session's words: the grace).
    if (!this.hasVoice && this.sttDoneAt === null && !this.wordsOfLostSession) return null;
    const endAt = this.speechEndedAt ?? now;
    // While the recognizer owes its final, nothing closes before the grace is over, whatever the verdict: the words
    // (and the pitch, where they leave it a say) are judged once they are final or the grace has run out.
    if (this.sttDoneAt === null && now < endAt + RECOGNIZER_GRACE_MS) return { waitMs: endAt + RECOGNIZER_GRACE_MS - now };
    const verdict = this.judge(endAt);
    const deadline = endAt + this.waitFor(verdict) + (this.sttDoneAt === null ? RECOGNIZER_GRACE_MS : 0);
    if (now < deadline) return { waitMs: deadline - now };
    const rule = this.sttDoneAt === null ? `${verdict.rule}; no final from the recognizer` : verdict.rule;
    return { close: this.close(now, endAt, rule, verdict.score) };
  }

  private judge(endAt: number): EndOfTurnVerdict {
    this.judgedEndAt = endAt;
    return this.model.judge({ text: this.pendingText, language: this.language, readProsody: this.prosodyOfJudgedEnd, confidence: this.confidence });
  }

  /** Pitch only where a VAD marked the end of speech (endAt is then the last voiced audio), read once per end. */
  private readonly prosodyOfJudgedEnd = (): ProsodyFeatures | null => {
    const endAt = this.judgedEndAt;
    if (this.prosody === undefined) this.prosody = this.readProsody && this.hasVoice && this.voiceEndedAt === endAt ? this.readProsody(endAt) : null;
    return this.prosody;
  };

  private waitFor(verdict: EndOfTurnVerdict): number {
    const complete = this.limits.endOfTurnCompleteWaitMs ?? 0;
    const max = Math.max(complete, this.limits.endOfTurnMaxWaitMs ?? 1500);
    if (verdict.completeness === 'complete') return complete;
    if (verdict.completeness === 'uncertain') return Math.max(complete, Math.round(max * UNCERTAIN_SHARE));
    return max;
  }

  reset(): void {
    this.finals = [];
    this.interim = '';
    this.speechStartedAt = this.inSpeech ? this.voiceStartedAt : null;
    this.sttDoneAt = null;
    this.sttFinalAt = null;
    this.confidence = null;
    this.wordsOfLostSession = false;
  }

  private close(now: number, endAt: number, rule: string, score: number): CallerUtterance {
    const text = this.finals.concat(this.interim ? [this.interim] : []).join(' ').replace(/\s+/g, ' ').trim();
    const utterance: CallerUtterance = {
      text,
      closedAt: now,
      endpointMs: now - endAt,
      speechStartedAt: this.speechStartedAt,
      speechEndedAt: endAt,
      sttFinalAt: this.sttFinalAt,
      rule,
      score,
    };
    this.reset();
    return utterance;
  }
}
