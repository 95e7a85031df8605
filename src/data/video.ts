// Decoding A2D's mp4 clips to RGB frames with the system ffmpeg (FFMPEG_PATH / FFPROBE_PATH or PATH).
// Mirrors torchvision `read_video(pts_unit='sec')`: every decoded frame once (no frame-rate
// conversion), no rotation from metadata. YUV→RGB goes through swscale as in PyAV, but the
// scaler flags may differ, so a pixel can differ by a grey level or so.
// TODO: use the shared video decoder of `soc segment` (src/io) once it exists.

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { FileFormatError, SocError } from '../errors.js';
import { requireFile } from './files.js';
import type { RgbImage } from './types.js';

/** Decodes every frame of a video file, in order. */
export type VideoDecoder = (file: string) => Promise<RgbImage[]>;

function ffmpegPath(): string {
  return process.env.FFMPEG_PATH || 'ffmpeg';
}

function ffprobePath(): string {
  if (process.env.FFPROBE_PATH) return process.env.FFPROBE_PATH;
  if (process.env.FFMPEG_PATH) return join(dirname(process.env.FFMPEG_PATH), 'ffprobe');
  return 'ffprobe';
}

function run(cmd: string, args: string[]): Promise<{ stdout: Buffer; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') {
        reject(new SocError(`${cmd} not found: install ffmpeg (Debian: apt-get install ffmpeg) or set FFMPEG_PATH / FFPROBE_PATH`));
      } else reject(e);
    });
    child.on('close', (code) => resolve({ stdout: Buffer.concat(out), stderr: err, code: code ?? 1 }));
  });
}

/** The default VideoDecoder: ffprobe for the size, ffmpeg for raw rgb24 frames. */
export async function decodeVideoWithFfmpeg(file: string): Promise<RgbImage[]> {
  requireFile(file, 'a video clip (mp4)');
  const probe = await run(ffprobePath(), [
    '-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'csv=p=0:s=x', file,
  ]);
  const m = /^(\d+)x(\d+)/.exec(probe.stdout.toString().trim());
  if (probe.code !== 0 || !m) {
    throw new FileFormatError(file, `cannot read as a video (expected an mp4 clip): ${probe.stderr.trim().split('\n')[0] ?? 'no video stream'}`);
  }
  const width = Number(m[1]);
  const height = Number(m[2]);
  const dec = await run(ffmpegPath(), [
    '-v', 'error', '-noautorotate', '-i', file, '-map', '0:v:0', '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-',
  ]);
  if (dec.code !== 0) throw new FileFormatError(file, `ffmpeg could not decode it: ${dec.stderr.trim().split('\n')[0]}`);
  const frameBytes = width * height * 3;
  if (dec.stdout.length % frameBytes !== 0 || dec.stdout.length === 0) {
    throw new FileFormatError(file, `decoded ${dec.stdout.length} bytes, not a whole number of ${width}x${height} RGB frames`);
  }
  const frames: RgbImage[] = [];
  for (let off = 0; off < dec.stdout.length; off += frameBytes) {
    frames.push({ width, height, data: new Uint8Array(dec.stdout.subarray(off, off + frameBytes)) });
  }
  return frames;
}
