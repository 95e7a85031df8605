// Throughput of the media input path on generated 360p, 480p (DAVIS size) and 720p clips.
//   npx tsx bench/media.ts [frames]
// Prints frames/s for: ffmpeg decode alone (streamed), Pillow-exact resize to 360/640, the
// normalisation to float32 CHW, and the whole path (decode → resize → normalise → tensor).
// Wall and CPU time are both reported because wall time is unreliable on a shared machine.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RgbImage } from '../src/data/types.js';
import { ffmpegCommand, hasFfmpeg } from '../src/media/ffmpeg.js';
import { normalizeToChw, resizedSize, VideoInputBuilder } from '../src/media/preprocess.js';
import { resizeBilinearPil } from '../src/media/resize.js';
import { openInput } from '../src/media/video-input.js';
import * as torch from '../src/tensor/index.js';

const FRAMES = Number(process.argv[2] ?? 120);

if (!hasFfmpeg()) {
  console.error('ffmpeg/ffprobe not found: sudo apt-get install -y ffmpeg (or set FFMPEG_PATH)');
  process.exit(1);
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const c = process.cpuUsage(c0);
  return { value, wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
}

const rate = (n: number, s: number) => `${(n / s).toFixed(0).padStart(6)} frames/s`;

// libtorch's first allocation is slow (lazy initialisation); keep it out of the timings.
torch.disposeAll(torch.fromTypedArray(new Float32Array(1 << 20)));

const dir = mkdtempSync(join(tmpdir(), 'soc-bench-media-'));
try {
  for (const [w, h] of [[640, 360], [854, 480], [1280, 720]] as const) {
    const file = join(dir, `clip_${h}p.mp4`);
    const made = spawnSync(ffmpegCommand(), [
      '-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${w}x${h}:rate=30`, '-frames:v', String(FRAMES),
      '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', file,
    ]);
    if (made.status !== 0) throw new Error(made.stderr.toString());
    const [oh, ow] = resizedSize(w, h);
    console.log(`\n${w}x${h} mp4, ${FRAMES} frames → model input ${ow}x${oh}`);

    // 1. decode only (frames streamed and dropped)
    const src = await openInput(file);
    const decode = await timed(async () => {
      let n = 0;
      for await (const _ of src.frames()) n++;
      return n;
    });
    console.log(`  decode (ffmpeg → RGB, streamed)   ${rate(decode.value, decode.wall)}   wall ${decode.wall.toFixed(2)} s, node CPU ${decode.cpu.toFixed(2)} s`);

    // keep a few frames for the per-step timings
    const sample: RgbImage[] = [];
    for await (const f of src.frames()) if (sample.push(f.image) === 10) break;

    // 2. resize only
    const reps = Math.max(1, Math.round(FRAMES / sample.length));
    const resize = await timed(async () => {
      for (let r = 0; r < reps; r++) for (const f of sample) resizeBilinearPil(f.data, w, h, 3, ow, oh);
      return reps * sample.length;
    });
    const note = ow === w && oh === h ? ' (already the model size: a copy)' : '';
    console.log(`  Pillow-exact bilinear resize      ${rate(resize.value, resize.wall)}   ${((resize.wall * 1000) / resize.value).toFixed(2)} ms/frame${note}`);

    // 3. normalise only
    const small = { width: ow, height: oh, data: resizeBilinearPil(sample[0]!.data, w, h, 3, ow, oh) };
    const out = new Float32Array(3 * ow * oh);
    const norm = await timed(async () => {
      for (let r = 0; r < reps * sample.length; r++) normalizeToChw(small, out);
      return reps * sample.length;
    });
    console.log(`  ToTensor + Normalize (float32)    ${rate(norm.value, norm.wall)}   ${((norm.wall * 1000) / norm.value).toFixed(2)} ms/frame`);

    // 4. the whole input path, windows of 32 frames as tensors [T, 1, 3, h, w]
    const full = await timed(async () => {
      const builder = new VideoInputBuilder(undefined, 32);
      let n = 0;
      for await (const window of src.windows(32)) {
        builder.clear();
        for (const f of window) builder.add(f.image, f.name);
        const p = builder.build();
        n += p.video.shape[0]!;
        torch.disposeAll(p);
      }
      return n;
    });
    console.log(`  decode → resize → normalise → tensor ${rate(full.value, full.wall)}   wall ${full.wall.toFixed(2)} s, node CPU ${full.cpu.toFixed(2)} s`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
