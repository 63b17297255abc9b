/** Pair Customization end to end on a random-weight SD-1.5-shaped checkpoint (see sd-checkpoints.ts). */
import { pairSuite, useCheckpoint } from './sd-checkpoints.ts';

useCheckpoint('sd15');
pairSuite('sd15');
