/** The call loop's streams use the server's one async queue. */
export { AsyncQueue } from '../util/async-queue.js';
