/** The call loop's public surface, for the transports (Twilio media stream, web call) and main.ts. */
export { CallSession, type CallSessionOptions, type BargeInMetric } from './call-session.js';
export { PgCallRecorder, MemoryCallRecorder, type CallRecorder, type CallEnd, type PgCallRecorderOptions } from './recorder.js';
export { ToolRegistry } from './tool-registry.js';
export { builtInTools, endCallTool, transferCallTool } from './tools/index.js';
export { SentenceChunker } from './sentence-chunker.js';
export { systemClock, silentLogger, type Clock, type CallLogger, type TranscriptTurn, type TurnLatency } from './types.js';
export type { CallContext, CallControl, Tool, ToolResult } from './tool-types.js';
