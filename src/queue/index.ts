export * from './job.ts';
export { InProcessQueue, DEFAULT_LIMITS, type QueueLimits, type InProcessQueueOptions } from './in-process.ts';
