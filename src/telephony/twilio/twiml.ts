/** TwiML answers for the voice webhook. */
import twilio from 'twilio';

export function connectStreamTwiml(streamUrl: string, parameters: Record<string, string>): string {
  const vr = new twilio.twiml.VoiceResponse();
  const stream = vr.connect().stream({ url: streamUrl });
  for (const [name, value] of Object.entries(parameters)) stream.parameter({ name, value });
  return vr.toString();
}

export function apologyTwiml(text: string, language: 'en' | 'ru'): string {
  const vr = new twilio.twiml.VoiceResponse();
  vr.say({ language: language === 'ru' ? 'ru-RU' : 'en-US' }, text);
  vr.hangup();
  return vr.toString();
}

export function hangupTwiml(): string {
  const vr = new twilio.twiml.VoiceResponse();
  vr.hangup();
  return vr.toString();
}

export function dialTwiml(to: string): string {
  const vr = new twilio.twiml.VoiceResponse();
  vr.dial(to);
  return vr.toString();
}
