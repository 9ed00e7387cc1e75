/** The tools every call has. Feature modules (knowledge, bookings) register theirs beside these. */
import type { Tool } from '../tool-types.js';
import { endCallTool } from './end-call.js';
import { transferCallTool } from './transfer-call.js';

export { endCallTool, transferCallTool };
export const builtInTools = (): Tool[] => [endCallTool, transferCallTool];
