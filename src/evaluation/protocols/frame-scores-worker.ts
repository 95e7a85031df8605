// Worker-thread entry of the frame scorer (frame-scores.ts).
import { parentPort } from 'node:worker_threads';
import { serveScoring } from './frame-scores.js';

if (parentPort) serveScoring(parentPort);
