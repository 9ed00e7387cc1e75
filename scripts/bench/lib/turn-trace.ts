/**
 * Splits every measured turn into the time Parley held it, the time the turn-taking policy waits by design, and
 * the time the (fake) providers and the load generator held it, from stamps taken on one clock
 * (performance.now() in the benchmark process). Turn-taking is the call's own: its VAD ends the caller's speech
 * after `endSilenceMs` of silence and Parley then sends Deepgram a Finalize (Deepgram's own endpointing is not
 * waited for):
 *
 *   caller sends last speech frame ─ end-of-speech silence [policy: endSilenceMs of audio] ─ caller sends the
 *     frame that completes it ─[to Finalize: Parley forwards it, its VAD ends speech, Finalize goes out]─
 *     fake Deepgram gets the Finalize ─[STT final latency (fake) + to LLM: Parley decides the turn is over and
 *     builds the prompt]─ fake OpenAI gets the request ─ first-token latency ─ first token goes out
 *     ─[to TTS: Parley]─ fake Cartesia gets the first phrase ─ first-audio latency ─ first chunk goes out
 *     ─[to caller: Parley]─ caller receives the first bot audio
 *
 * Parley's hops start when the harness actually sent something and end when the harness received the
 * consequence, so harness timers firing late count against the fakes — except the fake Deepgram's final, whose
 * sending is not stamped: "Finalize → LLM request" minus the set STT final latency is Parley's, so a late fake
 * timer there counts against Parley (the figure errs against the server). The parts add up to voice-to-voice
 * by construction (consecutive stamps on one clock).
 * Limits: utterance numbers are per Deepgram connection, so a turn after an STT reconnect is not matched (it is
 * counted as unmatched); frame numbers wrap at 65536 (~22 min), so calls are expected to be shorter.
 * Turns are matched across the fakes by tags: each caller's audio carries its tag (watermark.ts), the fake
 * Deepgram's transcript for (caller, utterance) contains `zq<caller>x<utterance>` — it asks for it last when the
 * utterance ends, i.e. when the Finalize arrives (or its own endpointing fires), which stamps that moment — and
 * the fake LLM starts its reply with the same word, which the first phrase sent to TTS therefore carries.
 */
import type { FakeCartesiaTrace } from '../../../tests/fakes/fakeCartesia.js';
import type { FakeDeepgramTrace } from '../../../tests/fakes/fakeDeepgram.js';
import type { CallResult } from './call-script.js';
import { readTag } from './watermark.js';

interface Stamps {
  /** The fake Deepgram ended the utterance (a Finalize arrived, or its own endpointing fired). */
  finalizeAt?: number;
  llmRequestAt?: number;
  llmFirstTokenAt?: number;
  ttsTextAt?: number;
  ttsContext?: string;
  ttsFirstAudioAt?: number;
}

export interface TurnBreakdown {
  /** Parley: the frame completing the end-of-speech silence sent → the Finalize at the fake Deepgram. */
  toFinalize: number;
  /** Parley: Finalize at the fake Deepgram → LLM request at the fake OpenAI, minus the set STT final latency. */
  toLlm: number;
  /**
   * Parley: first token out → first phrase in at the fake Cartesia. With the fake streaming tokens at an interval
   * this also holds the LLM's time to produce the rest of the first phrase.
   */
  toTts: number;
  /** Parley: first audio chunk out of the fake Cartesia → at the caller. */
  toCaller: number;
  serverAdded: number;
  /** Policy: the caller's last speech frame → the frame completing endSilenceMs of silence went out (harness). */
  endSilence: number;
  /** The fake Deepgram's set final latency (not measured: its sending is not stamped, see above). */
  sttFinal: number;
  llmFirstToken: number;
  ttsFirstAudio: number;
  voiceToVoice: number;
  /** When the turn's largest Parley hop began and which it was (epoch ms, this process's clock). */
  worstHopAt: number;
  worstHop: ParleyHop;
}

export const PARLEY_HOPS = ['toFinalize', 'toLlm', 'toTts', 'toCaller'] as const;
export type ParleyHop = (typeof PARLEY_HOPS)[number];

const TAG = /zq(\d+)x(\d+)/;

export function turnTag(caller: number, utterance: number): string {
  return `zq${caller}x${utterance}`;
}

export function parseTurnTag(text: string): { caller: number; utterance: number } | null {
  const m = TAG.exec(text);
  return m ? { caller: Number(m[1]), utterance: Number(m[2]) } : null;
}

export class TurnTracer {
  private readonly connectionCaller = new Map<number, number>();
  private readonly stamps = new Map<string, Stamps>();
  /** Caller tag → when each of its frames was sent (filled by the caller as it sends). */
  private readonly sentAt = new Map<number, number[]>();
  /** Every caller frame's trip through Parley to the fake Deepgram (held in a packet included), ms. */
  private readonly frameDelays: number[] = [];
  /** The last frame of each audio message's trip through Parley to the fake Deepgram (transit only), ms. */
  private readonly packetDelays: number[] = [];

  /**
   * @param endSilenceMs the call's VAD end-of-speech silence (VOICE_END_SILENCE_MS unless the bot sets it)
   * @param sttFinalMs the fake Deepgram's set final latency
   * @param frameBytes bytes of one caller frame (160: 20 ms of 8 kHz μ-law)
   */
  constructor(
    private readonly endSilenceMs: number,
    private readonly sttFinalMs: number,
    private readonly frameBytes = 160,
  ) {}

  /** A caller about to dial: its frames' send times are read as they arrive at the fake Deepgram. */
  registerCaller(tag: number, frameSentAt: number[]): void {
    this.sentAt.set(tag, frameSentAt);
  }

  private at(caller: number, utterance: number): Stamps {
    const key = `${caller}:${utterance}`;
    let s = this.stamps.get(key);
    if (!s) this.stamps.set(key, (s = {}));
    return s;
  }

  /** The fake Deepgram's transcript for a connection's utterance: the turn tag, then the script's words (which keep their final punctuation last). */
  transcript(words: string): (connection: number, utterance: number) => string {
    return (connection, utterance) => {
      const caller = this.connectionCaller.get(connection);
      if (caller === undefined) return words;
      // Asked for during the utterance (interim results) and last when it ends: the last stamp stays.
      this.at(caller, utterance).finalizeAt = performance.now();
      return `${turnTag(caller, utterance)} ${words}`;
    };
  }

  onDeepgram = (e: FakeDeepgramTrace): void => {
    if (e.kind !== 'audio') return;
    // Parley sends Deepgram packets of several frames: every frame in it carries its own tag.
    let last = -1;
    for (let offset = 0; offset + this.frameBytes <= e.audio.length; offset += this.frameBytes) {
      const tag = readTag(e.audio.subarray(offset));
      if (tag < 0) continue;
      const caller = Math.floor(tag / 0x10000);
      this.connectionCaller.set(e.connection, caller);
      const sent = this.sentAt.get(caller)?.[tag % 0x10000];
      if (sent === undefined) continue;
      this.frameDelays.push(e.at - sent);
      last = e.at - sent;
    }
    if (last >= 0) this.packetDelays.push(last);
  };

  /** Call from the fake LLM's reply function: stamps the request's arrival. */
  onLlmRequest(lastUserText: string, at: number): void {
    const t = parseTurnTag(lastUserText);
    if (t) this.at(t.caller, t.utterance).llmRequestAt ??= at;
  }

  onLlmFirstToken(lastUserText: string, at: number): void {
    const t = parseTurnTag(lastUserText);
    if (t) this.at(t.caller, t.utterance).llmFirstTokenAt ??= at;
  }

  onCartesia = (e: FakeCartesiaTrace): void => {
    const t = parseTurnTag(e.transcript);
    if (!t) return;
    const s = this.at(t.caller, t.utterance);
    if (e.kind === 'text') {
      if (s.ttsTextAt === undefined) {
        s.ttsTextAt = e.at;
        s.ttsContext = e.contextId;
      }
    } else if (e.contextId === s.ttsContext) s.ttsFirstAudioAt ??= e.at;
  };

  /** Per measured turn, where its time went; turns with a missing stamp are counted, not guessed. */
  breakdown(results: CallResult[]): { turns: TurnBreakdown[]; unmatched: number } {
    const turns: TurnBreakdown[] = [];
    let unmatched = 0;
    for (const r of results) {
      r.turns.forEach((turn, utterance) => {
        const s = this.stamps.get(`${r.tag}:${utterance}`);
        // The frame completing the end-of-speech silence: endSilenceMs of 20 ms frames after the last speech frame.
        const lastSpeech = r.frameSentAt.lastIndexOf(turn.endAt);
        const silenceFrames = Math.ceil(this.endSilenceMs / ((this.frameBytes / 8000) * 1000));
        const sentAt = lastSpeech >= 0 ? r.frameSentAt[lastSpeech + silenceFrames] : undefined;
        if (!s || sentAt === undefined || s.finalizeAt === undefined || s.llmRequestAt === undefined ||
          s.llmFirstTokenAt === undefined || s.ttsTextAt === undefined || s.ttsFirstAudioAt === undefined) {
          unmatched++;
          return;
        }
        const b: TurnBreakdown = {
          toFinalize: s.finalizeAt - sentAt,
          toLlm: s.llmRequestAt - s.finalizeAt - this.sttFinalMs,
          toTts: s.ttsTextAt - s.llmFirstTokenAt,
          toCaller: turn.firstAudioAt - s.ttsFirstAudioAt,
          serverAdded: 0,
          endSilence: sentAt - turn.endAt,
          sttFinal: this.sttFinalMs,
          llmFirstToken: s.llmFirstTokenAt - s.llmRequestAt,
          ttsFirstAudio: s.ttsFirstAudioAt - s.ttsTextAt,
          voiceToVoice: turn.firstAudioAt - turn.endAt,
          worstHopAt: 0,
          worstHop: 'toFinalize',
        };
        b.serverAdded = b.toFinalize + b.toLlm + b.toTts + b.toCaller;
        const hopStart: Record<ParleyHop, number> = { toFinalize: sentAt, toLlm: s.finalizeAt, toTts: s.llmFirstTokenAt, toCaller: s.ttsFirstAudioAt };
        for (const hop of PARLEY_HOPS) if (b[hop] > b[b.worstHop]) b.worstHop = hop;
        b.worstHopAt = performance.timeOrigin + hopStart[b.worstHop];
        turns.push(b);
      });
    }
    return { turns, unmatched };
  }

  /** Each caller frame's time from the caller's send to the fake Deepgram's receipt (through Parley, packet hold included). */
  inboundFrameDelays(): number[] {
    return this.frameDelays;
  }

  /** The last frame of each audio message Parley sent Deepgram: caller's send → the fake's receipt (transit only). */
  inboundPacketDelays(): number[] {
    return this.packetDelays;
  }
}

/**
 * The worst `share` of turns (by hop-by-hop server-added), grouped by when their largest hop began: hops less
 * than `gapMs` apart are one burst. A tail made of a few bursts is a few stalls that held every call at once (a
 * full collection, a long task); a tail spread over many is steady queueing.
 */
export function tailBursts(turns: TurnBreakdown[], share = 0.01, gapMs = 250): { worst: TurnBreakdown[]; bursts: TurnBreakdown[][] } {
  const n = Math.max(1, Math.ceil(turns.length * share));
  const worst = [...turns].sort((a, b) => b.serverAdded - a.serverAdded).slice(0, n);
  const byTime = [...worst].sort((a, b) => a.worstHopAt - b.worstHopAt);
  const bursts: TurnBreakdown[][] = [];
  for (const t of byTime) {
    const last = bursts[bursts.length - 1];
    if (last && t.worstHopAt - last[last.length - 1]!.worstHopAt <= gapMs) last.push(t);
    else bursts.push([t]);
  }
  bursts.sort((a, b) => b.length - a.length);
  return { worst, bursts };
}
