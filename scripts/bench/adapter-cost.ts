/**
 * CPU per agent turn of the two vendor adapters a cloud call uses per turn, measured in this process while the
 * fake vendors run in another (lib/fakes-child.ts): the OpenAI adapter (src/providers/llm/openai.ts: the SDK's
 * request, undici, the SSE stream) streaming a one-sentence answer, and the Cartesia adapter
 * (src/providers/tts/cartesia.ts) synthesizing it (1.2 s of 8 kHz μ-law in 20 ms chunks). It says how much of a
 * call's CPU (bench:calls) the turns' vendor traffic takes, against the line itself (bench:calls --listen-only-ms).
 *   npx tsx scripts/bench/adapter-cost.ts [--turns 500] [--rounds 3]   (pin it for steadier figures: taskset -c 0 …)
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { AudioFormat } from '../../src/audio/format.js';
import { OpenAiLlm } from '../../src/providers/llm/openai.js';
import { CartesiaTts } from '../../src/providers/tts/cartesia.js';
import type { ChatMessage } from '../../src/providers/types.js';

const { values: args } = parseArgs({ options: { turns: { type: 'string', default: '500' }, rounds: { type: 'string', default: '3' } } });
const TURNS = Number(args.turns);
const ROUNDS = Number(args.rounds);
const ANSWER = 'We are open from nine to six on weekdays.';

const child = spawn(process.execPath, ['--import', 'tsx', new URL('./lib/fakes-child.ts', import.meta.url).pathname, ANSWER], { stdio: ['ignore', 'pipe', 'inherit'] });
const fakes = JSON.parse(await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve))) as { openaiBaseUrl: string; openaiKey: string; cartesiaUrl: string };

const llm = new OpenAiLlm({ apiKey: fakes.openaiKey, baseUrl: fakes.openaiBaseUrl });
// A prompt the size of a bot's: ~2 KB of instructions and ten turns of conversation.
const system = 'Answer the caller briefly and politely. '.repeat(50);
const messages: ChatMessage[] = Array.from({ length: 10 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `Turn ${i} of the conversation, a sentence long.` }));
const llmTurn = async (): Promise<void> => {
  for await (const _ of llm.stream({ system, messages, tools: [], signal: new AbortController().signal }));
};

const format: AudioFormat = { encoding: 'mulaw', sampleRate: 8000 };
const tts = await new CartesiaTts({ apiKey: 'cartesia-test', baseUrl: fakes.cartesiaUrl, voice: 'bench' }).open({ format, language: 'en' });
const ttsTurn = async (): Promise<void> => {
  const turn = tts.startTurn(new AbortController().signal);
  turn.pushText(`${ANSWER} `);
  turn.end();
  for await (const _ of turn.audio);
};

async function measure(name: string, turn: () => Promise<void>): Promise<void> {
  for (let i = 0; i < 100; i++) await turn(); // warm-up: V8 optimises the path first
  const perTurn: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const before = process.cpuUsage();
    for (let i = 0; i < TURNS; i++) await turn();
    const spent = process.cpuUsage(before);
    perTurn.push((spent.user + spent.system) / TURNS / 1000);
  }
  process.stdout.write(`${name.padEnd(52)} ${perTurn.map((ms) => ms.toFixed(2)).join(' / ')} CPU-ms per turn (${ROUNDS} rounds of ${TURNS})\n`);
}

try {
  await measure('OpenAI adapter, one streamed answer (~12 chunks)', llmTurn);
  await measure('Cartesia adapter, its audio (1.2 s, 60 chunks)', ttsTurn);
} finally {
  await tts.close();
  child.kill();
}
