/**
 * Every configured text a voice speaks — the greeting, the recording notice, a campaign's voicemail, a tool's `say` —
 * goes through the same formatting step as the model's answers (safe-speech.ts speakableText): emoji, markdown and
 * URLs typed into a bot's greeting used to reach the TTS as they were ("sparkles", "asterisk asterisk").
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { builtInTools } from '../../src/call/tools/index.js';
import { renderSpeechWav } from '../../src/campaigns/voicemail-audio.js';
import { speakableText } from '../../src/safety/safe-speech.js';
import { apologyTwiml, connectStreamTwiml } from '../../src/telephony/twilio/twiml.js';
import { ScriptedTts } from '../helpers/scripted-providers.js';
import { testCallSession } from '../helpers/test-call-session.js';

const FORMATTED = '👋 **Welcome** to [Acme Dental](https://acme.example.com)! Book at www.acme.com ✨ How can I help?';
const SPOKEN = 'Welcome to Acme Dental! Book at How can I help?';
const UNSPEAKABLE = /[*✨👋[\]]|https?:|www\./u;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('configured texts a voice speaks', () => {
  it('speakableText strips what the answers lose and leaves plain text as it is', () => {
    expect(speakableText(FORMATTED)).toBe(SPOKEN);
    expect(speakableText('Hello, this is Acme Dental. How can I help?')).toBe('Hello, this is Acme Dental. How can I help?');
    expect(speakableText('🎉✨')).toBe('');
  });

  it('a greeting with emoji, markdown and a URL reaches the voice and the transcript without them', async () => {
    const { tts, recorder, session } = testCallSession({ tools: builtInTools(), config: { greeting: FORMATTED, systemPrompt: 'Be brief.' }, context: { botName: 'Acme' } });
    void session.start();
    await vi.advanceTimersByTimeAsync(5000);
    expect(tts.texts.join(' ')).not.toMatch(UNSPEAKABLE);
    expect(tts.texts.join(' ')).toContain('Welcome to Acme Dental!');
    expect(recorder.turns.map((t) => t.text)).toEqual([SPOKEN]);
    await session.end('caller_hangup', { immediate: true });
  });

  it('a recording notice or apology said by Twilio (<Say>) goes without them', () => {
    const twiml = connectStreamTwiml('wss://x/twilio/media', {}, { notice: { text: '🔴 This call is **recorded**.', language: 'en' } });
    expect(twiml).toContain('<Say language="en-US">This call is recorded.</Say>');
    expect(apologyTwiml('Sorry ✨ see https://acme.example.com', 'en')).toContain('<Say language="en-US">Sorry see</Say>');
  });

  it("a campaign's voicemail rendered in the bot's voice goes without them", async () => {
    vi.useRealTimers();
    const tts = new ScriptedTts();
    await renderSpeechWav(tts, { text: 'Hi Ann 👋 **call us back** at https://acme.example.com. Thanks!', language: 'en' }, { timeoutMs: 5000, maxBytes: 10_000_000 });
    expect(tts.texts.join(' ')).not.toMatch(UNSPEAKABLE);
    expect(tts.texts.join(' ')).toContain('call us back');
  });
});
