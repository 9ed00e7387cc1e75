/**
 * Heap allocated by one agent turn's own loop (src/call/agent-turn.ts: LLM events → sentence chunker →
 * safe-speech check → playback), per streamed answer, from V8's sampling heap profiler with the objects that
 * scavenges collect included. The LLM is a stub yielding a 144-word answer word by word and playback only takes
 * the phrases, so the figure is Parley's turn loop alone — what it adds to every turn's garbage, and with it to the
 * young-generation collections that pause every call on the process (bench:calls prints those).
 *   npx tsx scripts/bench/agent-turn-alloc.ts [--turns 2000]
 */
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { runAgentTurn, type AgentTurnOptions } from '../../src/call/agent-turn.js';
import { ToolRegistry } from '../../src/call/tool-registry.js';
import { systemClock } from '../../src/call/types.js';
import type { LlmEvent, LlmProvider } from '../../src/providers/types.js';

const { values: args } = parseArgs({ options: { turns: { type: 'string', default: '2000' } } });
const TURNS = Number(args.turns);
const ANSWER = Array.from({ length: 8 }, (_, i) => `Point ${i + 1} of our policy is that every visit is confirmed by a text message the day before.`).join(' ');
const WORDS = ANSWER.split(' ').map((w, i, all) => (i < all.length - 1 ? `${w} ` : w));

const llm: LlmProvider = {
  name: 'stub',
  async *stream(): AsyncIterable<LlmEvent> {
    for (const text of WORDS) yield { type: 'text', text };
  },
};
const playback = { say: () => {}, noteUnspoken: () => {} } as unknown as AgentTurnOptions['playback'];
const options = (): AgentTurnOptions => ({
  llm,
  tools: new ToolRegistry(),
  context: {} as AgentTurnOptions['context'],
  control: {} as AgentTurnOptions['control'],
  system: 'You are the front desk of a dental clinic.',
  history: [],
  userText: 'What is your policy?',
  playback,
  signal: new AbortController().signal,
  clock: systemClock,
  safeSpeech: { language: 'en', systemPrompt: 'You are the front desk of a dental clinic.' },
});

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

async function main(): Promise<void> {
  for (let i = 0; i < 300; i++) await runAgentTurn(options()); // warm: optimised code allocates differently
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  for (let i = 0; i < TURNS; i++) await runAgentTurn(options());
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: ProfileNode } };
  session.disconnect();
  const bySite = new Map<string, number>();
  let total = 0;
  const walk = (n: ProfileNode): void => {
    const site = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(src|scripts|node_modules)\//, '$1/') || '(native)'}`;
    bySite.set(site, (bySite.get(site) ?? 0) + n.selfSize);
    total += n.selfSize;
    n.children.forEach(walk);
  };
  walk(profile.head);
  const kb = (bytes: number): string => `${(bytes / TURNS / 1024).toFixed(1)} KB`;
  const out = ['', `=== agent turn allocation — ${TURNS} turns, a ${WORDS.length}-word answer streamed word by word ===`, `  allocated per turn      ${kb(total)}  (the stub LLM's own generator included; see its row)`];
  for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 8)) out.push(`    ${kb(bytes).padStart(9)}  ${site}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`agent-turn-alloc failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
