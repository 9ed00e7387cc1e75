/**
 * Fake OpenAI and Cartesia servers in a process of their own (for scripts/bench/adapter-cost.ts), so the CPU
 * time measured in the benchmark's process is the adapters' alone. Prints one JSON line with their URLs.
 */
import { FakeCartesia } from '../../../tests/fakes/fakeCartesia.js';
import { FakeOpenAI } from '../../../tests/fakes/fakeOpenAI.js';

const reply = process.argv[2] ?? 'We are open from nine to six on weekdays.';
const openai = await FakeOpenAI.start({});
openai.reply = { text: reply };
const cartesia = await FakeCartesia.start({ firstAudioLatencyMs: 0, msPerWord: 120 });
process.stdout.write(`${JSON.stringify({ openaiBaseUrl: openai.baseUrl, openaiKey: openai.apiKey, cartesiaUrl: cartesia.url })}\n`);
