/**
 * What a campaign call does when Twilio fetches its answer URL, by answering-machine detection's verdict
 * (`AnsweredBy`). Campaigns that leave a message dial with MachineDetection=DetectMessageEnd, so Twilio answers
 * only after the greeting and its beep (`machine_end_beep|machine_end_silence|machine_end_other`): the message
 * (variables filled) is spoken by the bot's own voice — rendered with its TTS and answered with <Play> of a
 * token-guarded WAV URL (voicemail-audio.ts) — and the call hangs up. When the TTS fails (or none is wired), TwiML
 * <Say> (Twilio's voice, in the bot's language) leaves it instead, and the call's reason says so.
 * Campaigns that hang up dial with MachineDetection=Enable (`machine_start`). A person (`human`) or an undecided
 * detection (`unknown`) gets the bot.
 */
import VoiceResponse from 'twilio/lib/twiml/VoiceResponse.js';
import { isMachineVerdict, machineEndReason, recordMachineAnswer } from '../call/machine-answer.js';
import { getBotById } from '../db/bots.js';
import type { Db } from '../db/sql.js';
import type { Logger } from '../log.js';
import { apologyTwiml, hangupTwiml } from '../telephony/twilio/twiml.js';
import type { VoicemailAction } from './repo.js';
import type { VoicemailAudio } from './voicemail-audio.js';

export interface CampaignAnswerOptions {
  /** Renders the message with the bot's voice; without it the message is left with <Say>. */
  voicemail?: VoicemailAudio | undefined;
  log?: Pick<Logger, 'warn'> | undefined;
}

/** <Play> the rendered message, then hang up. */
export function playTwiml(url: string): string {
  const vr = new VoiceResponse();
  vr.play({}, url);
  vr.hangup();
  return vr.toString();
}

export interface CampaignAnswer {
  /** TwiML to answer with; null = connect the bot as usual. */
  twiml: string | null;
}

/** Fills {{name}} placeholders from the contact; a placeholder with no value is dropped (never read aloud). */
export function fillVariables(template: string, values: Record<string, string>): string {
  // Own values only: {{constructor}} must not find Object's and read out "function Object() { [native code] }".
  return template.replace(/\{\{\s*(\w+)\s*\}\}/g, (_w, key: string) => (Object.hasOwn(values, key) ? values[key]! : '')).replace(/[ \t]{2,}/g, ' ').replace(/(?<!\s)\s+([,.!?])/g, '$1').trim();
}

/** The values a contact offers to templates: its variables, plus name and first_name from its name. */
export function contactValues(contact: { name: string | null; variables: Record<string, string> }): Record<string, string> {
  const name = contact.name?.trim() ?? '';
  return { ...(name ? { name, first_name: name.split(/\s+/)[0]! } : {}), ...contact.variables };
}

/** Null when the call is not a campaign's. Records what detection said on the attempt. */
export async function answerCampaignCall(db: Db, callId: string, answeredBy: string, options: CampaignAnswerOptions = {}): Promise<CampaignAnswer | null> {
  const [row] = await db<{
    attempt_id: string; voicemail: VoicemailAction; voicemail_message: string | null; language: 'en' | 'ru';
    name: string | null; variables: Record<string, string>; bot_id: string;
  }[]>`
    select a.id as attempt_id, g.voicemail, g.voicemail_message, b.language, k.name, k.variables, g.bot_id
    from campaign_attempts a
      join campaigns g on g.id = a.campaign_id
      join campaign_contacts k on k.id = a.contact_id
      join bots b on b.id = g.bot_id
    where a.call_id = ${callId}`;
  if (!row) return null;
  const verdict = answeredBy.slice(0, 40) || null;
  if (!isMachineVerdict(answeredBy)) {
    await db`update campaign_attempts set answered_by = ${verdict} where id = ${row.attempt_id}`;
    return { twiml: null };
  }
  const leave = row.voicemail === 'leave_message' && answeredBy.startsWith('machine_end') && Boolean(row.voicemail_message);
  const voicemail = answeredBy === 'fax' ? null : leave ? 'left' : 'hung_up';
  await db`update campaign_attempts set answered_by = ${verdict}, voicemail = ${voicemail} where id = ${row.attempt_id}`;
  await recordMachineAnswer(db, callId, { reason: machineEndReason(answeredBy, leave), failure: leave ? `voicemail left (${verdict})` : `answered by a machine (${verdict})` });
  if (!leave) return { twiml: hangupTwiml() };
  const text = fillVariables(row.voicemail_message!, contactValues(row));
  if (options.voicemail) {
    try {
      const bot = await getBotById(db, row.bot_id);
      if (!bot) throw new Error('the campaign\'s bot is gone');
      const url = await options.voicemail.prepare({ attemptId: row.attempt_id, callId, bot, text, language: row.language });
      return { twiml: playTwiml(url) };
    } catch (err) {
      const why = (err instanceof Error ? err.message : String(err)).slice(0, 200);
      options.log?.warn({ callId, attemptId: row.attempt_id, err: why }, 'voicemail TTS failed; leaving the message with <Say>');
      await db`update calls set failure_reason = ${`voicemail left with Twilio's voice, the bot's TTS failed: ${why} (${verdict})`}, updated_at = now() where id = ${callId}`;
    }
  }
  return { twiml: apologyTwiml(text, row.language) };
}
