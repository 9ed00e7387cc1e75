/**
 * The tools every call has. Feature modules (knowledge, bookings) register theirs beside these. callback_details
 * takes a caller's details for a callback (with the recognizer told what is asked), so every call can take a lead,
 * whichever engine answers.
 */
import { callbackDetails } from '../../outcomes/callback-details-tool.js';
import type { Tool } from '../tool-types.js';
import { endCallTool } from './end-call.js';
import { transferCallTool } from './transfer-call.js';

export { endCallTool, transferCallTool };
export const builtInTools = (): Tool[] => [endCallTool, transferCallTool, callbackDetails];
