/**
 * Noise (a door, a cough that goes on) that the bot takes for an interruption while a tool runs ("One moment while I
 * book that…"): no words come, so the rest of the answer is said once the caller is quiet — and the rest includes
 * the tool's spoken confirmation, which the cut answer never got to say. The transcript keeps what the caller heard:
 * the cut turn as heard, the confirmation once it has played (fake time, whole CallSession).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Tool, ToolResult } from '../../src/call/tool-types.js';
import type { ToolCall } from '../../src/providers/types.js';
import { ScriptedLlm, ScriptedTts, ScriptedVoice } from '../helpers/scripted-providers.js';
import { testCallSession } from '../helpers/test-call-session.js';

const CONFIRMATION = 'Your appointment is booked for Tuesday at three.';
/** The booking's result as the model's history holds it: the caller told of it, or not yet. */
const TOLD = JSON.stringify({ done: 'book_appointment' });
const NOT_TOLD = JSON.stringify({ done: 'book_appointment', not_yet_told_to_caller: CONFIRMATION });

/** A tool that finishes when the test says (as a booking does, whatever the abort signal), with a `say`. */
function slowTool(name: string, say: string) {
  let finish: () => void = () => {};
  const tool: Tool = {
    spec: { name, description: name, parameters: { type: 'object', properties: {} } },
    run: async () => {
      await new Promise<void>((resolve) => (finish = resolve));
      return { content: { done: name }, say } satisfies ToolResult;
    },
  };
  return { tool, finish: () => finish() };
}

function quickTool(name: string, say: string): Tool {
  return { spec: { name, description: name, parameters: { type: 'object', properties: {} } }, run: async () => ({ content: { done: name }, say }) };
}

function harness(tools: Tool[]) {
  const voice = new ScriptedVoice();
  const calls: ToolCall[] = tools.map((t, i) => ({ id: `c${i}`, name: t.spec.name, arguments: {} }));
  const { stt, llm, tts, recorder, session } = testCallSession({
    llm: new ScriptedLlm((_r, i) => (i === 0 ? { text: 'One moment while I book that. ', toolCalls: calls } : 'Sure.'), { firstTokenMs: 100, tokenMs: 10 }),
    tts: new ScriptedTts({ firstAudioMs: 50, chunkMs: 10 }),
    tools,
    limits: { silenceRepromptSec: 120, silenceHangupSec: 600 },
    session: { callerVoice: voice.factory },
  });
  void session.start();
  const advance = (ms: number) => vi.advanceTimersByTimeAsync(ms);
  /** Noise with no words: the VAD hears it, the recognizer nothing. */
  const noiseStarts = () => {
    voice.onset();
    stt.emit({ type: 'speech_started', atMs: 0 });
  };
  const noiseEnds = async () => {
    voice.end();
    await advance(300);
    stt.emit({ type: 'utterance_end' });
  };
  return {
    stt, voice, llm, tts, recorder, session, advance,
    /** The caller asks for the booking; "One moment…" is then said and the tools run. */
    ask: async () => {
      await advance(2000);
      voice.onset();
      await advance(800);
      voice.end(200);
      stt.emit({ type: 'final', text: 'book me for tuesday at three', endOfUtterance: true });
      await advance(3000); // "One moment while I book that." has been heard; the booking is being made
    },
    noiseStarts,
    noiseEnds,
    /** 1.5 s of noise: sustained, it commits the interruption (the turn is aborted); `meanwhile` happens after that. */
    noiseCommitsWhile: async (meanwhile: () => void) => {
      noiseStarts();
      await advance(1200);
      meanwhile();
      await advance(300);
      await noiseEnds();
    },
    transcript: () => recorder.turns.map((t) => `${t.role}${t.interrupted ? '(interrupted)' : ''}: ${t.text}`),
    /** The caller says `text` (words, heard as a new question): the next LLM request carries the history. */
    callerSays: async (text: string) => {
      voice.onset();
      void stt.play([
        { afterMs: 0, event: { type: 'speech_started', atMs: 0 } },
        { afterMs: 300, event: { type: 'interim', text } },
        { afterMs: 300, event: { type: 'final', text, endOfUtterance: true } },
      ]);
      await advance(700);
      voice.end();
      await advance(4000);
    },
    /** The tool results of the history as the LLM was last sent it. */
    toolResults: () => (llm.requests.at(-1)?.messages ?? []).filter((m) => m.role === 'tool').map((m) => m.content),
  };
}

beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }));
afterEach(() => void vi.useRealTimers());

describe('noise taken for an interruption while a tool runs', () => {
  it('once the caller is quiet, the tool\'s confirmation is said; the transcript has it only once it has played, and the history reads it told', async () => {
    const booking = slowTool('book_appointment', CONFIRMATION);
    const h = harness([booking.tool]);
    await h.ask();
    await h.noiseCommitsWhile(booking.finish); // the booking is made all the same
    await h.advance(8000);

    expect(h.tts.texts.filter((t) => t === CONFIRMATION)).toHaveLength(1);
    expect(h.transcript().slice(1)).toEqual([
      'caller: book me for tuesday at three',
      'bot(interrupted): One moment while I book that.',
      `bot: ${CONFIRMATION}`,
    ]);
    await h.callerSays('thanks');
    expect(h.llm.requests).toHaveLength(2);
    expect(h.toolResults()).toEqual([TOLD]);
    void h.session.end('server_shutdown', { immediate: true });
  });

  it('a tool still running when the caller goes quiet is waited for: its confirmation is the rest', async () => {
    const booking = slowTool('book_appointment', CONFIRMATION);
    const h = harness([booking.tool]);
    await h.ask();
    h.noiseStarts();
    await h.advance(1500);
    await h.noiseEnds();
    // Past the wait after a committed interruption (2.5 s), within the tools' deadline: only the booking's say is left.
    await h.advance(2600);
    expect(h.tts.texts).not.toContain(CONFIRMATION);
    booking.finish();
    await h.advance(6000);

    expect(h.tts.texts.filter((t) => t === CONFIRMATION)).toHaveLength(1);
    expect(h.transcript().at(-1)).toBe(`bot: ${CONFIRMATION}`);
    void h.session.end('server_shutdown', { immediate: true });
  });

  it("a say done before the cut, while a later tool still ran, is said too, in order with the later one's", async () => {
    const reminder = 'A reminder text is on its way.';
    const sms = slowTool('send_reminder', reminder);
    const h = harness([quickTool('book_appointment', CONFIRMATION), sms.tool]);
    await h.ask();
    await h.noiseCommitsWhile(sms.finish);
    await h.advance(8000);

    expect(h.tts.texts.slice(-2)).toEqual([CONFIRMATION, reminder]);
    expect(h.transcript().at(-1)).toBe(`bot: ${CONFIRMATION} ${reminder}`);
    // Both results read as told once the rest has played.
    await h.callerSays('thanks');
    expect(h.toolResults()).toEqual([TOLD, JSON.stringify({ done: 'send_reminder' })]);
    void h.session.end('server_shutdown', { immediate: true });
  });

  it('a confirmation the caller cuts with words is stored as far as it was heard, flagged interrupted; its result stays not told', async () => {
    const booking = slowTool('book_appointment', CONFIRMATION);
    const h = harness([booking.tool]);
    await h.ask();
    await h.noiseCommitsWhile(booking.finish);
    await h.advance(2500 + 1500); // the confirmation is playing
    await h.callerSays('wait no make it wednesday');

    const cut = h.recorder.turns.find((t) => t.role === 'bot' && t.text.startsWith('Your appointment'));
    expect(cut).toMatchObject({ interrupted: true });
    expect(cut!.text).not.toBe(CONFIRMATION);
    expect(cut!.text.endsWith('…')).toBe(true);
    expect(h.llm.lastUserText()).toBe('wait no make it wednesday');
    expect(h.toolResults()).toEqual([NOT_TOLD]);
    void h.session.end('server_shutdown', { immediate: true });
  });

  it('the history reads told when noise cuts the resumed confirmation too, once its rest has played', async () => {
    const booking = slowTool('book_appointment', CONFIRMATION);
    const h = harness([booking.tool]);
    await h.ask();
    await h.noiseCommitsWhile(booking.finish);
    await h.advance(2500 + 1500); // the confirmation is playing
    await h.noiseCommitsWhile(() => {});
    await h.advance(8000);
    expect(h.tts.texts.filter((t) => t === CONFIRMATION)).toHaveLength(2);

    await h.callerSays('thanks');
    expect(h.toolResults()).toEqual([TOLD]);
    void h.session.end('server_shutdown', { immediate: true });
  });

  it('the history reads told when noise cut a say spoken in the answer and its unheard sentence was said again', async () => {
    const reminder = 'A reminder text is on its way.';
    const h = harness([quickTool('book_appointment', `${CONFIRMATION} ${reminder}`)]);
    await h.ask();
    await h.advance(1800); // the confirmation has been heard, the reminder is playing
    await h.noiseCommitsWhile(() => {});
    await h.advance(8000);
    expect(h.transcript().slice(-2)).toEqual([`bot(interrupted): One moment while I book that. ${CONFIRMATION}`, `bot: ${reminder}`]);

    await h.callerSays('thanks');
    expect(h.toolResults()).toEqual([TOLD]);
    void h.session.end('server_shutdown', { immediate: true });
  });
});

