/**
 * What an in-call tool is. Tools live in a registry the agent calls through: OpenAI/Anthropic tool calling
 * and the local scenario engine use the same registry. Later features (knowledge, bookings) add tools
 * without touching the call loop.
 */
import type { BotConfig } from '../bots/config-schema.js';
import type { ToolSpec } from '../providers/types.js';
import type { RecognitionContext } from '../providers/stt/recognition-context.js';
import type { EmbeddingUsage } from '../usage/ingest-usage.js';
import type { TransferTargetRefusal } from '../telephony/transfer-target.js';
import type { ShownPassages } from './shown-passages.js';

export interface CallContext {
  callId: string;
  botId: string;
  companyId: string;
  /** The caller's number in E.164 (inbound: From), or null for web calls without one. */
  callerNumber: string | null;
  bot: { id: string; name: string; language: 'en' | 'ru'; config: BotConfig };
  /** What the bot just asked the caller, for the call's recognizer (set by the guided flow); absent outside calls. */
  recognition?: RecognitionContext;
  /** Adds the embedding tokens of a question looked up during the call to the call's usage; absent outside calls. */
  onEmbeddingUsage?: (usage: EmbeddingUsage) => void;
  /**
   * Why a transfer to `to` (canonical E.164) may not ring now — the bot itself, another company's number
   * (telephony/transfer-target.ts) — or null; absent outside calls.
   */
  transferTargetRefusal?: (to: string) => Promise<TransferTargetRefusal | null>;
  /**
   * The company's passages the model has been shown in this call, by the document version each came from, checked
   * against the documents before each LLM request (shown-passages.ts); absent outside calls.
   */
  passages?: ShownPassages;
}

/** What a tool may ask the session to do after it returns. */
export interface CallControl {
  /** Say goodbye (the tool's result text is spoken first), then hang up. */
  endCall(reason: string): void;
  /** Hand the caller to a human at `to` (E.164); the reason goes into the transcript. */
  transferCall(to: string, reason: string): Promise<void>;
}

/** Which version of which company document a passage the model is shown came from. */
export interface PassageSource {
  documentId: string;
  /** knowledge_documents.generation when the passage was read: a replacement makes a new one. */
  generation: number;
}

/** The company passages a tool result shows the model (search_knowledge): one source per passage, in order. */
export interface ToolPassages {
  sources: PassageSource[];
  /** The result's content with the passages whose index `gone` names left out (their documents withdrawn since). */
  without(gone: (index: number) => boolean): unknown;
}

export interface ToolResult {
  /** JSON-serialisable result handed back to the LLM. */
  content: unknown;
  /** Optional sentence for the scenario engine/loop to speak verbatim (e.g. a confirmed booking time). */
  say?: string;
  /** The company passages `content` shows, when it shows any (a tool with passages has no `say`). */
  passages?: ToolPassages;
}

export interface Tool {
  spec: ToolSpec;
  /**
   * Only looks something up: its arguments act for no one and reach no one (search_knowledge), so they may carry
   * what a document said (copied-contacts.ts checks every other tool's).
   */
  lookupOnly?: boolean;
  run(args: Record<string, unknown>, ctx: CallContext, control: CallControl, signal: AbortSignal): Promise<ToolResult>;
}
