/**
 * What the bot just asked the caller for, per call: the recognizer's counterpart of a VoiceXML per-prompt grammar.
 * The guided booking flow sets it when it asks a question (a name, a spelling, a number, a time, a yes or no) and
 * replaces or clears it with its next answer; the call's recognizer reads it at the start of each utterance
 * (SttSessionOptions.expected) and may decode with a model for that input (the local one does, local.ts).
 *
 * The call runner makes one per call and hands it to the tools (CallContext.recognition) and to every STT session
 * the call opens (withExpectedInput).
 */
import type { ExpectedInput, SttProvider } from '../types.js';

export class RecognitionContext {
  private expected: ExpectedInput | null = null;

  /** The next answer is expected to be this (null: nothing in particular). */
  expect(kind: ExpectedInput | null): void {
    this.expected = kind;
  }

  current(): ExpectedInput | null {
    return this.expected;
  }
}


/** The provider with every session it opens reading `context` (for a call's own recognizer, reconnects included). */
export function withExpectedInput(provider: SttProvider, context: RecognitionContext): SttProvider {
  return {
    name: provider.name,
    open: (options) => provider.open({ ...options, expected: context }),
  };
}
