/**
 * A phone call whose LLM stream stalls (the vendor holds the connection open and sends nothing more), through the real
 * server and the OpenAI adapter against its fake. The stall is cut after STREAM_IDLE_MS (6 s) of silence: each case
 * here takes that long.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../scripts/lib/twilio-caller.js';
import { mulawToneFrame } from '../fakes/fakeDeepgram.js';
import { fakeTokens, type FakeChatReply } from '../fakes/fakeOpenAI.js';
import { PUBLIC_ORIGIN, startCloudStack, type CloudStack } from '../helpers/cloud-stack.js';
import { storedTranscript, untilTranscriptHas } from '../helpers/transcript.js';
import { until } from '../helpers/until.js';

const ANSWER = 'We close at six pm today. On Sundays we open at ten and close at four in the afternoon.';
const LEAD_IN = 'Sure, one moment please. Let me check that for you.';
const AFTER_TOOL = 'I could not find that in our documents, sorry.';

describe('a phone call whose LLM stream stalls mid-answer', () => {
  let s: CloudStack;
  beforeAll(async () => {
    s = await startCloudStack({
      deepgram: { utterances: ['what time do you close today'], finalLatencyMs: 50 },
      openai: { firstTokenLatencyMs: 50 },
      cartesia: { firstAudioLatencyMs: 30, chunkIntervalMs: 0 },
    });
  });
  afterAll(async () => s?.close());

  /** Dials, waits out the greeting, speaks, and returns the call once a bot turn starting with `botText` is stored. */
  async function askAndWait(botText: string) {
    const caller = await TwilioCaller.dial({ server: s.url, publicOrigin: PUBLIC_ORIGIN, authToken: s.twilioAuthToken, from: '+15557654321', to: s.botNumber });
    await untilTranscriptHas(s.t.db.sql, caller.callId, 'bot', 'Hello, thanks');
    await caller.waitForBotQuiet(300);
    await caller.say(mulawToneFrame(1200, 8000));
    await untilTranscriptHas(s.t.db.sql, caller.callId, 'bot', botText);
    return caller;
  }
  const botTurns = async (callId: string) => (await storedTranscript(s.t.db.sql, callId)).filter((e) => e.role === 'bot').map((e) => e.text);

  it('says and stores the whole phrases before the stall, never the fragment after them', async () => {
    // The role chunk and one chunk per word: held after "…today. On Sundays we".
    s.openai.reply = { text: ANSWER, pauseAfterChunks: 1 + fakeTokens('We close at six pm today. On Sundays we').length };
    const caller = await askAndWait('We close at six pm today.');
    await until(() => s.openai.clientAborts >= 1);
    await caller.hangup();
    const turns = await botTurns(caller.callId);
    expect(turns.at(-1)).toBe('We close at six pm today.');
    expect(turns.join(' ')).not.toContain('On Sundays');
  }, 30_000);

  it('cut inside a tool call: asks again, runs the tool and answers, the lead-in said once', async () => {
    const asked = s.openai.requests.length;
    const call = { id: 'call_k', name: 'search_knowledge', arguments: { query: 'closing time today' } };
    s.openai.reply = (body) => {
      if ((body.messages as Array<{ role: string }>).some((m) => m.role === 'tool')) return { text: AFTER_TOOL };
      // The first answer is held after its call's first chunk and one piece of its arguments.
      const first = s.openai.requests.length === asked + 1;
      return { text: LEAD_IN, toolCalls: [call], ...(first ? { pauseAfterChunks: 1 + fakeTokens(LEAD_IN).length + 2 } : {}) } satisfies FakeChatReply;
    };
    const caller = await askAndWait(LEAD_IN);
    await caller.hangup();
    const answer = (await botTurns(caller.callId)).at(-1)!;
    expect(answer).toBe(`${LEAD_IN} ${AFTER_TOOL}`);
    // The stalled answer, its retry, and the answer after the tool's result.
    expect(s.openai.requests.length - asked).toBe(3);
    const last = s.openai.requests.at(-1)!.body as { messages: Array<{ role: string; content: string }> };
    expect(last.messages.find((m) => m.role === 'tool')?.content).toContain('"results":[]');
  }, 30_000);
});
