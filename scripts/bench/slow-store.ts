/**
 * A slow knowledge store, from the caller's side: a Twilio call (the real Media Streams protocol, fake Deepgram,
 * OpenAI and Cartesia) to a bot with a document in a fake Qdrant that answers queries after QDRANT_DELAY_MS (0 =
 * healthy); the model calls search_knowledge, then answers. Prints caller's end of speech (last frame of the
 * utterance sent) → first bot audio received by the caller, and the stored transcript.
 *
 *   QDRANT_DELAY_MS=12000 npx tsx scripts/bench/slow-store.ts
 */
import { TwilioCaller } from '../lib/twilio-caller.js';
import { mulawToneFrame } from '../../tests/fakes/fakeDeepgram.js';
import { FakeQdrant } from '../../tests/fakes/fakeQdrant.js';
import { PUBLIC_ORIGIN, startCloudStack } from '../../tests/helpers/cloud-stack.js';
import { storedTranscript, untilTranscriptHas } from '../../tests/helpers/transcript.js';
import { until } from '../../tests/helpers/until.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DOC = 'Parking\n\nFree parking is behind the building, enter from Mill Lane.';

async function main(): Promise<void> {
  const qdrant = new FakeQdrant();
  const qurl = await qdrant.start();
  const s = await startCloudStack({
    deepgram: { utterances: ['where can I park'], finalLatencyMs: 50 },
    cartesia: { firstAudioLatencyMs: 30, chunkIntervalMs: 0 },
    openai: { firstTokenLatencyMs: 50, tokenIntervalMs: 10, embeddingDimensions: 1536 },
    extraEnv: { QDRANT_URL: qurl, WORKERS_ENABLED: 'true' },
    logLevel: process.env.LOG ?? 'silent',
  });
  const boundary = '----x';
  const body = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="parking.txt"\r\nContent-Type: text/plain\r\n\r\n${DOC}\r\n--${boundary}--\r\n`;
  const up = await fetch(`${s.url}/v1/bots/${s.botId}/knowledge`, { method: 'POST', headers: { authorization: `Bearer ${s.company.apiKey}`, 'content-type': `multipart/form-data; boundary=${boundary}` }, body });
  const { id } = (await up.json()) as { id: string };
  await until(async () => ((await (await fetch(`${s.url}/v1/bots/${s.botId}/knowledge/${id}`, { headers: { authorization: `Bearer ${s.company.apiKey}` } })).json()) as { status: string }).status === 'ready' || null, 60_000);
  s.openai.reply = (b) => {
    const msgs = b.messages as Array<{ role: string }>;
    return msgs.some((m) => m.role === 'tool') ? { text: 'You can park for free behind the building. ' } : { toolCalls: [{ id: 'call_k', name: 'search_knowledge', arguments: { query: 'parking' } }] };
  };
  qdrant.queryDelayMs = Number(process.env.QDRANT_DELAY_MS ?? 0);
  const caller = await TwilioCaller.dial({ server: s.url, publicOrigin: PUBLIC_ORIGIN, authToken: s.twilioAuthToken, from: '+15557654321', to: s.botNumber });
  await untilTranscriptHas(s.t.db.sql, caller.callId, 'bot', 'Hello, thanks');
  await caller.waitForBotQuiet(300);
  await caller.say(mulawToneFrame(1200, 8000));
  const end = Date.now();
  const got = await caller.waitForBotAudio(30_000);
  console.log(`[qdrant delay ${qdrant.queryDelayMs} ms] first bot audio ${got ? `${Date.now() - end} ms` : 'never (30 s)'} after the caller's end of speech; LLM requests ${s.openai.requests.length}`);
  await caller.waitForBotQuiet(500, 15000);
  await caller.hangup();
  await sleep(1000);
  for (const e of await storedTranscript(s.t.db.sql, caller.callId)) console.log('   ', e.role, JSON.stringify(e.text), JSON.stringify((e as { latency?: unknown }).latency ?? ''));
  const tool = (s.openai.requests.at(-1)?.body as { messages: Array<{ role: string; content: string }> }).messages.find((m) => m.role === 'tool');
  console.log('    tool result the LLM saw:', tool?.content?.slice(0, 200));
  await s.close();
  await qdrant.stop();
  process.exit(0);
}
main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
