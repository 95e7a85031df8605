// Loading training clips ahead of the model, in worker threads (node:worker_threads), so decoding,
// resizing and normalising overlap with the training step. Determinism does not depend on the
// workers: the epoch's sample order is a permutation drawn from (seed, epoch), and each sample's
// augmentation from (seed, epoch, sample index), so any number of workers — or none — yields the
// same batches, and a resumed run sees the same data as an uninterrupted one.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { SocError } from '../../errors.js';
import { Rng, mixSeed } from '../../data/prng.js';
import { type AugmentConfig, type PreparedClip, augmentClip } from './augment.js';
import { ClipSource, type DataSpec, type TrainSample } from './sources.js';

export interface LoaderOptions {
  spec: DataSpec;
  samples: readonly TrainSample[];
  augment: AugmentConfig;
  seed: number;
  /** Worker threads; 0 loads on the main thread. Default: 1 (the step itself uses the other cores). */
  workers?: number;
  /** Batches prepared ahead of the one being consumed (default 2). */
  prefetch?: number;
  /** Expressions segmented per clip (default 1): see WorkerData. */
  expressionsPerClip?: number;
}

/** What the worker threads receive. */
export interface WorkerData {
  spec: DataSpec;
  samples: readonly TrainSample[];
  augment: AugmentConfig;
  seed: number;
  /**
   * A soc-ts option (the reference trains one expression per clip): each sample brings up to
   * N − 1 other expressions of its window, drawn from (seed, epoch, sample index), so one backbone
   * pass serves N expressions and the model sees in one step which words pick which object.
   */
  expressionsPerClip?: number;
}

export interface WorkerTask {
  id: number;
  sampleIndex: number;
  epoch: number;
}

export type WorkerReply = { id: number; clip: PreparedClip } | { id: number; error: { name: string; message: string; stack?: string } };

/** The seed of one sample's augmentation in one epoch. */
export function sampleSeed(seed: number, epoch: number, sampleIndex: number): number {
  return mixSeed(seed, epoch, sampleIndex);
}

/** Loads and augments one sample: what every worker (or the main thread) runs. */
export async function prepareSample(source: ClipSource, data: WorkerData, sampleIndex: number, epoch: number): Promise<PreparedClip> {
  const sample = data.samples[sampleIndex];
  if (!sample) throw new SocError(`sample ${sampleIndex} is out of range (${data.samples.length} samples)`);
  const companions = companionsOf(data, sampleIndex, epoch).map((i) => data.samples[i]!);
  const raw = await source.load(sample, companions);
  return augmentClip(raw, data.augment, new Rng(sampleSeed(data.seed, epoch, sampleIndex)), sampleIndex);
}

/** Sample indices by window (video and frames), built once per sample list. */
const windowGroups = new WeakMap<readonly TrainSample[], Map<string, number[]>>();

function windowKey(s: TrainSample): string | null {
  return s.kind === 'window' ? `${s.videoId}\n${s.frames.join('\n')}` : null;
}

/** The other samples of a sample's window that come along with it this epoch (none unless expressionsPerClip > 1). */
export function companionsOf(data: WorkerData, sampleIndex: number, epoch: number): number[] {
  const n = data.expressionsPerClip ?? 1;
  const key = windowKey(data.samples[sampleIndex]!);
  if (n <= 1 || key === null) return [];
  let groups = windowGroups.get(data.samples);
  if (!groups) {
    groups = new Map();
    const byWindow = new Map<string, number[]>();
    data.samples.forEach((s, i) => {
      const k = windowKey(s);
      if (k === null) return;
      const list = byWindow.get(k);
      if (list) list.push(i);
      else byWindow.set(k, [i]);
    });
    windowGroups.set(data.samples, (groups = byWindow));
  }
  const others = groups.get(key)!.filter((i) => i !== sampleIndex);
  return new Rng(mixSeed(data.seed, epoch, sampleIndex, 0xc0)).shuffle(others).slice(0, n - 1);
}

/** The buffers of a prepared clip, moved (not copied) to the receiving thread. */
export function transferList(clip: PreparedClip): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>([clip.video.buffer as ArrayBuffer]);
  for (const targets of [clip.targets, ...(clip.companions ?? []).map((c) => c.targets)]) for (const t of targets) if (t) out.add(t.mask.buffer as ArrayBuffer);
  return [...out];
}

/** A batch and how long the consumer waited for it. */
export interface LoadedBatch {
  clips: PreparedClip[];
  /** Seconds the consumer was blocked waiting for data (0 when it was ready). */
  waitSeconds: number;
}

export class ClipLoader {
  private readonly data: WorkerData;
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (c: PreparedClip) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private nextWorker = 0;
  private mainSource: ClipSource | null = null;
  private failure: Error | null = null;
  private closed = false;
  readonly prefetch: number;

  private constructor(o: LoaderOptions) {
    this.data = { spec: o.spec, samples: o.samples, augment: o.augment, seed: o.seed, ...(o.expressionsPerClip && o.expressionsPerClip > 1 ? { expressionsPerClip: o.expressionsPerClip } : {}) };
    this.prefetch = Math.max(0, o.prefetch ?? 2);
  }

  static async create(o: LoaderOptions): Promise<ClipLoader> {
    if (o.samples.length === 0) throw new SocError(`no training samples in ${o.spec.root} (${o.spec.dataset}, split ${o.spec.split}, window ${o.spec.window})`);
    const loader = new ClipLoader(o);
    const n = Math.min(o.workers ?? 1, Math.max(1, availableParallelism()));
    if (n <= 0) loader.mainSource = await ClipSource.open(o.spec);
    for (let i = 0; i < n; i++) loader.workers.push(loader.spawn());
    return loader;
  }

  get size(): number {
    return this.data.samples.length;
  }

  get workerCount(): number {
    return this.workers.length;
  }

  /** Batches per epoch (the last one may be smaller: drop_last is false, as in the reference). */
  numBatches(batchSize: number): number {
    return Math.ceil(this.size / batchSize);
  }

  /** The epoch's sample order: a permutation seeded by (seed, epoch). */
  epochOrder(epoch: number): number[] {
    const order = Array.from({ length: this.size }, (_, i) => i);
    return new Rng(mixSeed(this.data.seed, 0x5eed, epoch)).shuffle(order);
  }

  /**
   * The epoch's batches in order, from batch `start` on (a resumed epoch), at most `limit` of them.
   * Up to `prefetch` batches beyond the current one are being prepared at any time.
   */
  async *batches(epoch: number, batchSize: number, o: { start?: number; limit?: number } = {}): AsyncGenerator<LoadedBatch> {
    const order = this.epochOrder(epoch);
    const total = this.numBatches(batchSize);
    const start = o.start ?? 0;
    const end = Math.min(total, start + (o.limit ?? total));
    const inFlight = new Map<number, Promise<PreparedClip[]>>();
    const request = (b: number) => {
      if (b >= end || inFlight.has(b)) return;
      const ids = order.slice(b * batchSize, (b + 1) * batchSize);
      const p = Promise.all(ids.map((i) => this.load(i, epoch)));
      p.catch(() => undefined); // surfaced when awaited
      inFlight.set(b, p);
    };
    try {
      for (let b = start; b < end; b++) {
        for (let k = b; k <= b + this.prefetch; k++) request(k);
        const t0 = performance.now();
        const clips = await inFlight.get(b)!;
        inFlight.delete(b);
        yield { clips, waitSeconds: (performance.now() - t0) / 1000 };
      }
    } finally {
      // let abandoned prefetches settle quietly
      for (const p of inFlight.values()) p.catch(() => undefined);
    }
  }

  /** Loads one sample (on a worker, round-robin, or on this thread). */
  load(sampleIndex: number, epoch: number): Promise<PreparedClip> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new SocError('the data loader is closed'));
    if (this.mainSource) return prepareSample(this.mainSource, this.data, sampleIndex, epoch);
    const id = this.nextId++;
    const worker = this.workers[this.nextWorker++ % this.workers.length]!;
    return new Promise<PreparedClip>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, sampleIndex, epoch } satisfies WorkerTask);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
    for (const p of this.pending.values()) p.reject(new SocError('the data loader was closed'));
    this.pending.clear();
  }

  private spawn(): Worker {
    const worker = startWorker(this.data);
    worker.unref();
    worker.on('message', (reply: WorkerReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if ('clip' in reply) p.resolve(reply.clip);
      else {
        const e = reply.error.name === 'SocError' || reply.error.name === 'FileFormatError' ? new SocError(reply.error.message) : new Error(reply.error.message);
        if (reply.error.stack) e.stack = reply.error.stack;
        p.reject(e);
      }
    });
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', (code) => {
      if (!this.closed && code !== 0) this.fail(new SocError(`a data-loading worker stopped with exit code ${code}`));
    });
    return worker;
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}

/**
 * Starts worker.js beside this module; from the TypeScript sources (tests, `SOC_FROM_SOURCE`) the
 * worker first registers tsx, which worker threads do not inherit from the API registration.
 */
function startWorker(data: WorkerData): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const tsx = import.meta.resolve('tsx/esm/api');
    const target = new URL('./worker.ts', here).href;
    const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(target)}); });`;
    return new Worker(code, { eval: true, workerData: data });
  }
  return new Worker(new URL('./worker.js', here), { workerData: data });
}
