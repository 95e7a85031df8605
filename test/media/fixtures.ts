// Small media made on the fly for the media tests: grey videos whose frame k has grey level 8·k
// (so a decoded frame tells which source frame it is), and frame folders.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import sharp from 'sharp';
import { ffmpegCommand, hasFfmpeg } from '../../src/media/ffmpeg.js';

let warned = false;

/** False (test skipped, with a loud message once) when ffmpeg/ffprobe are not installed. */
export function needFfmpeg(t: TestContext): boolean {
  if (hasFfmpeg()) return true;
  const msg = 'SKIPPED: ffmpeg/ffprobe not found (sudo apt-get install -y ffmpeg, or set FFMPEG_PATH)';
  if (!warned) {
    console.warn(`\n*** ${msg} ***\n`);
    warned = true;
  }
  t.skip(msg);
  return false;
}

export const greyOf = (k: number) => (k * 8) % 256;

/** Raw RGB frames: frame k is uniformly grey 8·k. */
export function greyFrames(count: number, width: number, height: number): Buffer {
  const frameBytes = width * height * 3;
  const buf = Buffer.alloc(count * frameBytes);
  for (let k = 0; k < count; k++) buf.fill(greyOf(k), k * frameBytes, (k + 1) * frameBytes);
  return buf;
}

/** Encoder settings per container; H.264 at qp 0 keeps the greys within ±1. */
const CODECS: Record<string, string[]> = {
  mp4: ['-c:v', 'libx264', '-qp', '0', '-pix_fmt', 'yuv420p'],
  mov: ['-c:v', 'libx264', '-qp', '0', '-pix_fmt', 'yuv420p'],
  mkv: ['-c:v', 'ffv1', '-pix_fmt', 'bgr0'],
  webm: ['-c:v', 'libvpx', '-b:v', '0', '-crf', '4', '-pix_fmt', 'yuv420p'],
  avi: ['-c:v', 'mjpeg', '-q:v', '2', '-pix_fmt', 'yuvj420p'],
};

/** Encodes `count` grey frames into `path` (container from the extension). */
export function makeGreyVideo(path: string, count: number, o: { width?: number; height?: number; fps?: number; extra?: string[] } = {}): void {
  const width = o.width ?? 64;
  const height = o.height ?? 48;
  const ext = path.slice(path.lastIndexOf('.') + 1);
  const args = [
    '-v', 'error', '-y',
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-framerate', String(o.fps ?? 10), '-i', 'pipe:0',
    ...CODECS[ext]!, ...(o.extra ?? []), path,
  ];
  const r = spawnSync(ffmpegCommand(), args, { input: greyFrames(count, width, height) });
  if (r.status !== 0) throw new Error(`making ${path} failed: ${r.stderr?.toString()}`);
}

/** Copies a video with rotation metadata added (as phones record portrait clips). */
export function withRotation(from: string, to: string, degrees: number): void {
  const r = spawnSync(ffmpegCommand(), ['-v', 'error', '-y', '-i', from, '-c', 'copy', '-metadata:s:v', `rotate=${degrees}`, to]);
  if (r.status !== 0) throw new Error(`making ${to} failed: ${r.stderr?.toString()}`);
}

/** Writes a uniformly grey PNG or JPEG (by extension). */
export async function writeGreyImage(path: string, grey: number, width = 20, height = 12): Promise<void> {
  const img = sharp(Buffer.alloc(width * height * 3, grey), { raw: { width, height, channels: 3 } });
  writeFileSync(path, await (path.endsWith('.png') ? img.png() : img.jpeg({ quality: 100 })).toBuffer());
}
