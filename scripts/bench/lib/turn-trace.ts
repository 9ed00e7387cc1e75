/**
 * Splits every measured turn into the time Parley held it and the time the (fake) providers and the load
 * generator held it, from stamps taken on one clock (performance.now() in the benchmark process):
 *
 *   caller sends last speech frame ─ endpointing audio ─ caller sends the frame that completes the silence
 *     ─[inbound: Parley forwards it]─ fake Deepgram sees it ─ final latency ─ fake Deepgram sends speech_final
 *     ─[to LLM: Parley]─ fake OpenAI gets the request ─ first-token latency ─ first token goes out
 *     ─[to TTS: Parley]─ fake Cartesia gets the first phrase ─ first-audio latency ─ first chunk goes out
 *     ─[to caller: Parley]─ caller receives the first bot audio
 *
 * The four bracketed hops are Parley's share: each starts when the harness actually sent something and ends
 * when the harness received the consequence, so harness timers firing late count against the fakes, while the
 * harness being slow to read a message still counts against Parley (the figure errs against the server).
 * The eight parts add up to voice-to-voice by construction (consecutive stamps on one clock).
 * Limits: utterance numbers are per Deepgram connection, so a turn after an STT reconnect is not matched (it is
 * counted as unmatched); frame numbers wrap at 65536 (~22 min), so calls are expected to be shorter.
 * Turns are matched across the fakes by tags: each caller's audio carries its tag (watermark.ts), the fake
 * Deepgram's transcript for (caller, utterance) contains `zq<caller>x<utterance>`, and the fake LLM starts its
 * reply with the same word, which the first phrase sent to TTS therefore carries.
 */
import type { FakeCartesiaTrace } from '../../../tests/fakes/fakeCartesia.js';
import type { FakeDeepgramTrace } from '../../../tests/fakes/fakeDeepgram.js';
import type { CallResult } from './call-script.js';
import { readTag } from './watermark.js';

interface Stamps {
  triggerFrame?: number;
  endpointAt?: number;
  finalAt?: number;
  llmRequestAt?: number;
  llmFirstTokenAt?: number;
  ttsTextAt?: number;
  ttsContext?: string;
  ttsFirstAudioAt?: number;
}

export interface TurnBreakdown {
  /** Parley: the frame completing the endpointing silence, caller → fake Deepgram. */
  inbound: number;
  /** Parley: speech_final out of the fake Deepgram → LLM request in at the fake OpenAI. */
  toLlm: number;
  /**
   * Parley: first token out → first phrase in at the fake Cartesia. With the fake streaming tokens at an interval
   * this also holds the LLM's time to produce the rest of the first phrase.
   */
  toTts: number;
  /** Parley: first audio chunk out of the fake Cartesia → at the caller. */
  toCaller: number;
  serverAdded: number;
  /** Harness and fakes: audio time until the endpointing frame went out (set: endpointing), and each fake's latency. */
  endpointAudio: number;
  sttFinal: number;
  llmFirstToken: number;
  ttsFirstAudio: number;
  voiceToVoice: number;
}

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
  /** Deepgram connection → number of the last tagged frame it received. */
  private readonly lastFrame = new Map<number, number>();
  private readonly stamps = new Map<string, Stamps>();
  /** Caller tag → when each of its frames was sent (filled by the caller as it sends). */
  private readonly sentAt = new Map<number, number[]>();
  /** Every caller frame's trip through Parley to the fake Deepgram, ms. */
  private readonly frameDelays: number[] = [];

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

  /** The fake Deepgram's transcript for a connection's utterance: the script's words plus the turn tag. */
  transcript(words: string): (connection: number, utterance: number) => string {
    return (connection, utterance) => {
      const caller = this.connectionCaller.get(connection);
      return caller === undefined ? words : `${words} ${turnTag(caller, utterance)}`;
    };
  }

  onDeepgram = (e: FakeDeepgramTrace): void => {
    if (e.kind === 'audio') {
      const tag = readTag(e.audio);
      if (tag < 0) return;
      const caller = Math.floor(tag / 0x10000);
      const frame = tag % 0x10000;
      this.connectionCaller.set(e.connection, caller);
      this.lastFrame.set(e.connection, frame);
      const sent = this.sentAt.get(caller)?.[frame];
      if (sent !== undefined) this.frameDelays.push(e.at - sent);
      return;
    }
    const caller = this.connectionCaller.get(e.connection);
    if (caller === undefined) return;
    const s = this.at(caller, e.utterance);
    if (e.kind === 'endpoint') {
      s.endpointAt ??= e.at;
      s.triggerFrame ??= this.lastFrame.get(e.connection);
    } else s.finalAt ??= e.at;
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
        const sentAt = s?.triggerFrame !== undefined ? r.frameSentAt[s.triggerFrame] : undefined;
        if (!s || sentAt === undefined || s.endpointAt === undefined || s.finalAt === undefined || s.llmRequestAt === undefined ||
          s.llmFirstTokenAt === undefined || s.ttsTextAt === undefined || s.ttsFirstAudioAt === undefined) {
          unmatched++;
          return;
        }
        const b: TurnBreakdown = {
          inbound: s.endpointAt - sentAt,
          toLlm: s.llmRequestAt - s.finalAt,
          toTts: s.ttsTextAt - s.llmFirstTokenAt,
          toCaller: turn.firstAudioAt - s.ttsFirstAudioAt,
          serverAdded: 0,
          endpointAudio: sentAt - turn.endAt,
          sttFinal: s.finalAt - s.endpointAt,
          llmFirstToken: s.llmFirstTokenAt - s.llmRequestAt,
          ttsFirstAudio: s.ttsFirstAudioAt - s.ttsTextAt,
          voiceToVoice: turn.firstAudioAt - turn.endAt,
        };
        b.serverAdded = b.inbound + b.toLlm + b.toTts + b.toCaller;
        turns.push(b);
      });
    }
    return { turns, unmatched };
  }

  /** Each caller frame's time from the caller's send to the fake Deepgram's receipt (through Parley). */
  inboundFrameDelays(): number[] {
    return this.frameDelays;
  }
}
