/**
 * Lets the requests that have already arrived be acknowledged before this one's work starts: under a
 * burst, acknowledgments (Discord's and Slack's 3 s) must not queue behind other commands' uploads,
 * registry reads and API calls. setImmediate runs after the event loop's pending I/O callbacks.
 */
export const afterPendingAcks = (): Promise<void> => new Promise((r) => setImmediate(r));
