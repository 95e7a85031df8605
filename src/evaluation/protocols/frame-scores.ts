// Per-frame J and F of predicted mask files against ground truth, for `soc score`: the files are
// read on the main thread, decoded and scored either inline or on a pool of worker threads (F
// dominates: a few milliseconds per 480p frame, so a 2000-frame benchmark takes ~30 s on one core).
//
// Problems with a predicted file (missing, not a PNG, wrong size) do not stop the run: they are
// collected per file and the frame is scored as an empty prediction, which is what the DAVIS
// toolkit does for a missing object. Problems with the ground truth are fatal.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { decodeLabelPng } from '../../data/image.js';
import type { Mask } from '../../data/types.js';
import { FileFormatError, SocError } from '../../errors.js';
import { boundaryF, jaccard } from '../jf.js';

/** A mask to score: PNG file bytes (decoded where the scoring runs) or an already decoded binary mask. */
export type MaskInput = { kind: 'png'; file: string; bytes: Uint8Array } | { kind: 'mask'; file: string; mask: Mask };

export type FrameProblemKind = 'missing' | 'corrupt' | 'size-mismatch';

/** Something wrong with one predicted file; the frame was scored as an empty prediction. */
export interface FrameProblem {
  sequence: string;
  frame: string;
  file: string;
  kind: FrameProblemKind;
  message: string;
}

/** One frame: its ground truth and the prediction (null when the file is missing). */
export interface FrameInput {
  frame: string;
  gt: MaskInput;
  pred: MaskInput | null;
  /** Where the prediction was expected, for the missing-file report. */
  predFile: string;
}

/** The frames of one scored object (a video, or a video's expression). */
export interface SequenceInput {
  name: string;
  frames: FrameInput[];
}

export interface SequenceScores {
  name: string;
  frames: string[];
  j: number[];
  f: number[];
  problems: FrameProblem[];
}

/** Binary foreground (non-zero) of a mask input; PNG decoding errors are thrown as FileFormatError. */
function toBinary(m: MaskInput): Mask {
  const mask = m.kind === 'png' ? decodeLabelPng(m.bytes, m.file) : m.mask;
  const data = new Uint8Array(mask.data.length);
  for (let i = 0; i < data.length; i++) data[i] = mask.data[i] !== 0 ? 1 : 0;
  return { width: mask.width, height: mask.height, data };
}

/** Scores one sequence (runs inline or inside a worker). */
export function scoreSequence(seq: SequenceInput): SequenceScores {
  const out: SequenceScores = { name: seq.name, frames: [], j: [], f: [], problems: [] };
  for (const fr of seq.frames) {
    const gt = toBinary(fr.gt); // fatal on error: the ground truth must be readable
    let pred: Mask | null = null;
    const problem = (kind: FrameProblemKind, file: string, message: string) => out.problems.push({ sequence: seq.name, frame: fr.frame, file, kind, message });
    if (!fr.pred) {
      problem('missing', fr.predFile, 'missing file');
    } else {
      try {
        pred = toBinary(fr.pred);
      } catch (e) {
        problem('corrupt', fr.pred.file, e instanceof FileFormatError ? e.message.slice(e.file.length + 2) : (e as Error).message);
      }
      if (pred && (pred.width !== gt.width || pred.height !== gt.height)) {
        problem('size-mismatch', fr.pred.file, `prediction is ${pred.height}x${pred.width} (HxW) but the ground truth ${fr.gt.file} is ${gt.height}x${gt.width}`);
        pred = null;
      }
    }
    const p = pred ?? { width: gt.width, height: gt.height, data: new Uint8Array(gt.data.length) };
    out.frames.push(fr.frame);
    out.j.push(jaccard(gt, p));
    out.f.push(boundaryF(gt, p));
  }
  return out;
}

/** The byte buffers of a sequence, to transfer (not copy) them to a worker. */
function transferList(seq: SequenceInput): ArrayBuffer[] {
  const bufs = new Set<ArrayBuffer>();
  for (const fr of seq.frames) {
    for (const m of [fr.gt, fr.pred]) {
      if (!m) continue;
      const b = m.kind === 'png' ? m.bytes.buffer : m.mask.data.buffer;
      // only whole, unshared buffers can move; Node's pooled small Buffers stay copies
      if (b instanceof ArrayBuffer && b.byteLength === (m.kind === 'png' ? m.bytes.byteLength : m.mask.data.byteLength)) bufs.add(b);
    }
  }
  return [...bufs];
}

/** A worker thread running `scoreSequence` (the .ts sources run through tsx in a development checkout). */
function startWorker(): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const entry = new URL('./frame-scores-worker.ts', here).href;
    const tsx = import.meta.resolve('tsx/esm/api');
    const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
    return new Worker(boot, { eval: true });
  }
  return new Worker(new URL('./frame-scores-worker.js', here));
}

export interface ScoreOptions {
  /** Worker threads; 1 scores on the main thread. Default: the CPUs, at most 8. */
  jobs?: number;
  /** Called after each sequence with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

/** Default number of scoring threads. */
export function defaultJobs(): number {
  return Math.max(1, Math.min(8, availableParallelism()));
}

/**
 * Scores every sequence; `load(i)` reads sequence i's files (called shortly before it is scored,
 * so only a few sequences are in memory at once). Results come back in input order.
 */
export async function scoreSequences(count: number, load: (i: number) => Promise<SequenceInput>, o: ScoreOptions = {}): Promise<SequenceScores[]> {
  const jobs = Math.max(1, Math.min(o.jobs ?? defaultJobs(), count));
  const results: SequenceScores[] = new Array(count);
  let done = 0;
  const finished = () => o.onProgress?.(++done, count);
  if (jobs === 1) {
    for (let i = 0; i < count; i++) {
      results[i] = scoreSequence(await load(i));
      finished();
    }
    return results;
  }
  const workers = Array.from({ length: jobs }, startWorker);
  let next = 0;
  try {
    await Promise.all(
      workers.map(async (w) => {
        while (next < count) {
          const i = next++;
          const seq = await load(i);
          results[i] = await runOnWorker(w, seq);
          finished();
        }
      }),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}

type WorkerReply = { ok: true; result: SequenceScores } | { ok: false; message: string; file?: string; user: boolean };

function runOnWorker(w: Worker, seq: SequenceInput): Promise<SequenceScores> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      w.off('message', onMessage);
      w.off('error', onError);
    };
    const onMessage = (reply: WorkerReply) => {
      cleanup();
      if (reply.ok) resolve(reply.result);
      else if (reply.file !== undefined) reject(new FileFormatError(reply.file, reply.message));
      else reject(reply.user ? new SocError(reply.message) : new Error(reply.message));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    w.on('message', onMessage);
    w.on('error', onError);
    w.postMessage(seq, transferList(seq));
  });
}

/** The worker side: score each sequence posted, reply with its scores or the error. */
export function serveScoring(port: { on(event: 'message', f: (seq: SequenceInput) => void): void; postMessage(v: WorkerReply): void }): void {
  port.on('message', (seq) => {
    try {
      port.postMessage({ ok: true, result: scoreSequence(seq) });
    } catch (e) {
      if (e instanceof FileFormatError) port.postMessage({ ok: false, file: e.file, message: e.message.slice(e.file.length + 2), user: true });
      else port.postMessage({ ok: false, message: (e as Error).message, user: e instanceof SocError });
    }
  });
}
