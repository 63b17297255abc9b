// Entry of the engine thread: registers tsx's TypeScript loader in this thread, then loads the
// TypeScript entry (a worker does not inherit the loader hooks of the thread that starts it).
import { register } from 'tsx/esm/api';

register();
await import('./engine-thread.ts');
