/** What the analyzers take and give. */
import type { UsageItem } from '../usage/counting.js';
import type { ResolvedOutcomeConfig } from './defaults.js';

export interface TranscriptTurn {
  role: string;
  text: string;
  /** Tool name, for tool turns (role 'tool', or a system turn recording a tool call). */
  name?: string;
  tool?: string;
}

export interface AnalysisInput {
  language: 'en' | 'ru';
  transcript: TranscriptTurn[];
  /** A booking row references this call (ground truth from the database). */
  bookingMade: boolean;
  /**
   * That booking as stored: local date (YYYY-MM-DD) and time (HH:MM) in the business's zone, service, name. What the
   * caller said may not hold it ("the second one" picks a time the bot offered).
   */
  booking?: { date: string; time: string; service: string; name: string | null } | null;
  callerNumber: string | null;
  outcomes: ResolvedOutcomeConfig;
  /** How the call ended: the call's status and its end reason (`caller_hangup: …`, `silence`, `provider_failure: stt`, `transferred`…). */
  end?: { status: string | null; reason: string | null };
}

export interface Analysis {
  summary: string;
  outcomeType: string;
  confidence: number;
  extractedData: Record<string, unknown>;
  /** e.g. 'offline', 'openai:gpt-4o-mini', 'offline (fallback: …)'. */
  analyzer: string;
  /** What the LLM's answers consumed (every attempt, refused ones too): recorded as the call's usage. */
  usage?: UsageItem[];
}

export interface Analyzer {
  analyze(input: AnalysisInput, signal?: AbortSignal): Promise<Analysis>;
}
