// Locating and running the system ffmpeg/ffprobe (Debian's `ffmpeg` package), the only video codec
// layer soc-ts uses: decoding user videos and encoding overlay mp4s.
//   FFMPEG_PATH   the ffmpeg binary (default: `ffmpeg` on PATH)
//   FFPROBE_PATH  the ffprobe binary (default: next to FFMPEG_PATH, else `ffprobe` on PATH)

import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FileFormatError, SocError } from '../errors.js';

/** ffmpeg or ffprobe could not be started. */
export class FfmpegMissingError extends SocError {
  constructor(readonly command: string) {
    super(
      `${command} was not found. Install ffmpeg (Debian/Ubuntu: sudo apt-get install -y ffmpeg) ` +
        `or point FFMPEG_PATH (and FFPROBE_PATH) at the binaries.`,
    );
  }
}

export function ffmpegCommand(): string {
  return process.env.FFMPEG_PATH || 'ffmpeg';
}

export function ffprobeCommand(): string {
  if (process.env.FFPROBE_PATH) return process.env.FFPROBE_PATH;
  if (process.env.FFMPEG_PATH) {
    const sibling = join(dirname(process.env.FFMPEG_PATH), 'ffprobe');
    if (existsSync(sibling)) return sibling;
  }
  return 'ffprobe';
}

const versions = new Map<string, string | null>();

/** The first line of `command -version`, or null when the command cannot be run (cached). */
function versionLine(command: string): string | null {
  let line = versions.get(command);
  if (line === undefined) {
    const r = spawnSync(command, ['-version'], { encoding: 'utf8', timeout: 10_000 });
    line = !r.error && r.status === 0 ? (r.stdout.split('\n')[0] ?? '') : null;
    versions.set(command, line);
  }
  return line;
}

/** True when `command -version` runs (cached per command). */
export function isCommandAvailable(command: string): boolean {
  return versionLine(command) !== null;
}

/** ffmpeg's [major, minor] version (`ffmpeg version 5.1.9-…` → [5, 1]); null for git builds (`N-…`) or no ffmpeg. */
export function ffmpegVersion(): [number, number] | null {
  const m = /version n?(\d+)\.(\d+)/.exec(versionLine(ffmpegCommand()) ?? '');
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** The option that keeps every decoded frame once: `-fps_mode` since ffmpeg 5.1, `-vsync` before. */
export function passthroughFramesArgs(): string[] {
  const v = ffmpegVersion();
  const old = v !== null && (v[0] < 5 || (v[0] === 5 && v[1] < 1));
  return old ? ['-vsync', 'passthrough'] : ['-fps_mode', 'passthrough'];
}

/** True when both ffmpeg and ffprobe can be run. */
export function hasFfmpeg(): boolean {
  return isCommandAvailable(ffmpegCommand()) && isCommandAvailable(ffprobeCommand());
}

/** Throws FfmpegMissingError unless ffmpeg (and ffprobe when asked) can be run. */
export function requireFfmpeg(withProbe = true): void {
  if (!isCommandAvailable(ffmpegCommand())) throw new FfmpegMissingError(ffmpegCommand());
  if (withProbe && !isCommandAvailable(ffprobeCommand())) throw new FfmpegMissingError(ffprobeCommand());
}

/** The last meaningful lines of an ffmpeg/ffprobe log, for error messages. */
export function lastLogLines(stderr: string, lines = 3): string {
  const kept = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  return kept.slice(-lines).join(' | ') || 'no message';
}

/** Runs a command to completion, collecting stdout and stderr. */
export function runCommand(command: string, args: string[]): Promise<{ stdout: Buffer; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
      if (err.length > 65536) err = err.slice(-32768);
    });
    child.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new FfmpegMissingError(command) : e));
    child.on('close', (code) => resolve({ stdout: Buffer.concat(out), stderr: err, code: code ?? 1 }));
  });
}

/** What ffprobe says about a video's first video stream. */
export interface VideoProbe {
  /** Displayed size: after the rotation in the metadata when `autorotate` was asked for. */
  width: number;
  height: number;
  /** Frames per second (average frame rate, else the stream's base rate); null when unknown. */
  fps: number | null;
  durationSeconds: number | null;
  /** nb_frames from the container when it records it (mp4, mov), else null. */
  frameCount: number | null;
  /** Rotation in degrees from the display matrix (0, 90, 180, 270). */
  rotation: number;
  codec: string | null;
}

function parseRate(rate: unknown): number | null {
  if (typeof rate !== 'string') return null;
  const m = /^(\d+)(?:\/(\d+))?$/.exec(rate.trim());
  if (!m) return null;
  const num = Number(m[1]);
  const den = m[2] === undefined ? 1 : Number(m[2]);
  return num > 0 && den > 0 ? num / den : null;
}

function positiveNumber(v: unknown): number | null {
  const n = typeof v === 'string' ? Number(v) : typeof v === 'number' ? v : NaN;
  return Number.isFinite(n) && n > 0 ? n : null;
}

/** Reads a video's size, frame rate, duration and frame count with ffprobe (no decoding). */
export async function probeVideo(file: string, autorotate = true): Promise<VideoProbe> {
  const command = ffprobeCommand();
  const r = await runCommand(command, [
    '-v', 'error',
    '-select_streams', 'v:0',
    // Whole sections: entry filters for side data differ between ffprobe versions.
    '-show_streams', '-show_format',
    '-of', 'json',
    file,
  ]);
  if (r.code !== 0) throw new FileFormatError(file, `cannot read as a video: ${lastLogLines(r.stderr.split(`${file}: `).join(''), 1)}`);
  let parsed: { streams?: Record<string, unknown>[]; format?: Record<string, unknown> };
  try {
    parsed = JSON.parse(r.stdout.toString());
  } catch {
    throw new FileFormatError(file, 'ffprobe gave unreadable output for this file');
  }
  const stream = parsed.streams?.[0];
  if (!stream) throw new FileFormatError(file, 'has no video stream (not a video, or a video without frames)');
  const width = Number(stream.width);
  const height = Number(stream.height);
  if (!(width > 0 && height > 0)) throw new FileFormatError(file, 'the video stream has no frame size (corrupt or unsupported file)');
  let rotation = 0;
  const side = stream.side_data_list as { rotation?: number }[] | undefined;
  const fromSide = side?.find((s) => typeof s.rotation === 'number')?.rotation;
  const fromTag = (stream.tags as { rotate?: string } | undefined)?.rotate;
  if (fromSide !== undefined) rotation = fromSide;
  else if (fromTag !== undefined && Number.isFinite(Number(fromTag))) rotation = Number(fromTag);
  rotation = ((Math.round(rotation / 90) * 90) % 360 + 360) % 360;
  const swap = autorotate && (rotation === 90 || rotation === 270);
  const fps = parseRate(stream.avg_frame_rate) ?? parseRate(stream.r_frame_rate);
  const durationSeconds = positiveNumber(stream.duration) ?? positiveNumber(parsed.format?.duration);
  const nb = positiveNumber(stream.nb_frames);
  return {
    width: swap ? height : width,
    height: swap ? width : height,
    fps,
    durationSeconds,
    frameCount: nb === null ? null : Math.round(nb),
    rotation,
    codec: typeof stream.codec_name === 'string' ? stream.codec_name : null,
  };
}
