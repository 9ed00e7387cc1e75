/** TwiML answers for the voice webhook. */
// Only the TwiML builder, not the package's index (the whole REST client: ~5 MB of heap on the call loop's thread).
import VoiceResponse from 'twilio/lib/twiml/VoiceResponse.js';
import { speakableText } from '../../safety/safe-speech.js';

const sayLanguage = (language: 'en' | 'ru') => (language === 'ru' ? 'ru-RU' : 'en-US');

/**
 * XML 1.0 cannot carry C0 control characters other than tab, LF and CR, U+FFFE/U+FFFF or unpaired surrogates, and
 * the TwiML builder throws on them — which would answer Twilio with a 500 and drop the call. Text that reaches
 * <Say> (a bot's recording notice, a voicemail filled from a contact's CSV variables, an apology) goes without them,
 * whatever was stored before the API refused them.
 */
// eslint-disable-next-line no-control-regex -- matching the characters XML refuses is the point
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/** …and, like every text a voice speaks, without markdown, URLs and emoji (safe-speech.ts speakableText). */
const sayable = (text: string): string => speakableText(text.replace(NOT_XML, ' '));

export interface StreamTwimlOptions {
  /** Said first (the bot's recording notice), in the bot's language. */
  notice?: { text: string; language: 'en' | 'ru' } | null;
  /**
   * Twilio records the call, dual channel (caller and bot apart), reporting to this callback URL. Started with
   * <Start><Recording>, which does not block: TwiML goes on to the stream at once (protocols.md §1.7).
   */
  recordingCallbackUrl?: string | null;
}

/** [<Say>notice] [<Start><Recording/>] <Connect><Stream> with `parameters` as <Parameter>s. */
export function connectStreamTwiml(streamUrl: string, parameters: Record<string, string>, options: StreamTwimlOptions = {}): string {
  const vr = new VoiceResponse();
  if (options.notice) vr.say({ language: sayLanguage(options.notice.language) }, sayable(options.notice.text));
  if (options.recordingCallbackUrl) {
    vr.start().recording({ channels: 'dual', recordingStatusCallback: options.recordingCallbackUrl, recordingStatusCallbackEvent: ['completed'] });
  }
  const stream = vr.connect().stream({ url: streamUrl });
  for (const [name, value] of Object.entries(parameters)) stream.parameter({ name, value });
  return vr.toString();
}

export function apologyTwiml(text: string, language: 'en' | 'ru'): string {
  const vr = new VoiceResponse();
  vr.say({ language: sayLanguage(language) }, sayable(text));
  vr.hangup();
  return vr.toString();
}

export function hangupTwiml(): string {
  const vr = new VoiceResponse();
  vr.hangup();
  return vr.toString();
}

export function dialTwiml(to: string): string {
  const vr = new VoiceResponse();
  vr.dial(to);
  return vr.toString();
}
