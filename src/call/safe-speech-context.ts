/**
 * What the safe-speech check (src/safety/safe-speech.ts) knows of a call before any document or tool result:
 * the company's own prompt (never to be read out), the bot's blocklist, the caller's number (fine to read back),
 * and the prices the bot's booking services state (a different spoken price is refused).
 */
import type { SafeSpeechContext } from '../safety/safe-speech.js';
import type { CallContext } from './tool-types.js';

export function safeSpeechContextFor(ctx: CallContext): SafeSpeechContext {
  const config = ctx.bot.config;
  const services = config.booking?.services ?? [];
  return {
    language: ctx.bot.language,
    systemPrompt: config.systemPrompt ?? '',
    blocklist: config.safety?.blocklist ?? [],
    callerNumber: ctx.callerNumber,
    facts: services.filter((s) => typeof s.price === 'number').map((s) => ({ name: s.name, aliases: s.aliases ?? [], values: [s.price!] })),
  };
}
