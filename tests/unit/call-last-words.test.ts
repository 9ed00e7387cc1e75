/**
 * A caller who hangs up before their turn has closed — mid-sentence, or a moment after a question, while the
 * end-of-turn wait still runs — said something: it is stored in the transcript (nothing answers it), not dropped
 * with the call. So is what a caller says over the goodbye (a shutdown, a silence hang-up, end_call): the one turn
 * they cannot interrupt.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CallSession } from '../../src/call/call-session.js';
import { ScriptedStt, ScriptedTts } from '../helpers/scripted-providers.js';
import { testCallSession } from '../helpers/test-call-session.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let session: CallSession | null = null;
afterEach(async () => {
  await session?.end('server_shutdown', { immediate: true });
  session = null;
});

/** A call started with a voice that takes `chunkMs` per word; its session is `session`. */
function startCall(chunkMs: number) {
  const call = testCallSession({ tts: new ScriptedTts({ firstAudioMs: 1, chunkMs }) });
  session = call.session;
  return { ...call, done: session.start() };
}

async function hangUpAfter(events: (stt: ScriptedStt) => void) {
  const { transport, stt, llm, recorder, done } = startCall(0);
  await sleep(200);
  events(stt);
  await sleep(50);
  transport.close('caller hung up');
  await done;
  return { recorder, llm };
}

describe('the caller\'s last words', () => {
  it('mid-sentence: the words so far are stored', async () => {
    const { recorder, llm } = await hangUpAfter((stt) => {
      stt.emit({ type: 'speech_started', atMs: 0 });
      stt.emit({ type: 'final', text: 'please cancel my appointment for tomorrow and', endOfUtterance: false });
      stt.emit({ type: 'interim', text: 'also' });
    });
    expect(recorder.turns.filter((t) => t.role === 'caller').map((t) => t.text)).toEqual(['please cancel my appointment for tomorrow and also']);
    expect(llm.requests).toHaveLength(0);
    expect(recorder.ended?.status).toBe('completed');
  });

  it('a finished sentence whose turn had not closed yet is stored once', async () => {
    const { recorder } = await hangUpAfter((stt) => {
      stt.emit({ type: 'speech_started', atMs: 0 });
      stt.emit({ type: 'final', text: 'please cancel my appointment for tomorrow', endOfUtterance: false });
    });
    expect(recorder.turns.filter((t) => t.role === 'caller').map((t) => t.text)).toEqual(['please cancel my appointment for tomorrow']);
  });

  it('a recognizer with no words yet (it decodes at the end of speech) is asked for them before the call ends', async () => {
    const { transport, stt, llm, recorder, done } = startCall(0);
    await sleep(200);
    // The caller started a sentence: the voice activity says so, the recognizer has nothing yet.
    stt.onFinalize = () => ({ type: 'final', text: 'I need to change my appointment', endOfUtterance: true });
    stt.emit({ type: 'speech_started', atMs: 0 });
    await sleep(50);
    transport.close('caller hung up');
    await done;
    expect(recorder.turns.filter((t) => t.role === 'caller').map((t) => t.text)).toEqual(['I need to change my appointment']);
    expect(llm.requests).toHaveLength(0);
  });

  it('words said over the goodbye are stored (not answered), spoken or typed', async () => {
    // A goodbye that takes a while to play: ~40 ms per word, played in real time.
    const { transport, stt, llm, recorder, session: call, done } = startCall(40);
    await sleep(300);
    const ending = call.end('server_shutdown');
    await sleep(30);
    stt.emit({ type: 'speech_started', atMs: 0 });
    stt.emit({ type: 'final', text: 'wait I need to change my appointment to friday', endOfUtterance: true });
    await sleep(200);
    transport.text('and my number changed');
    await ending;
    await done;
    expect(recorder.turns.filter((t) => t.role === 'caller').map((t) => t.text)).toEqual(['wait I need to change my appointment to friday', 'and my number changed']);
    expect(llm.requests).toHaveLength(0);
    expect(recorder.ended?.reason).toBe('server_shutdown');
  });
});
