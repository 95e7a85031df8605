// The reference's resize rule, ToTensor + Normalize values and the batch collate.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UsageError } from '../../src/errors.js';
import {
  A2D_RESIZE,
  getSizeWithAspectRatio,
  nestedTensorFromVideosList,
  normalizedValue,
  normalizeToChw,
  preprocessVideo,
  pythonRound,
  resizedSize,
  VideoInputBuilder,
  YTVOS_RESIZE,
} from '../../src/media/preprocess.js';
import { resizeBilinearPil } from '../../src/media/resize.js';
import * as torch from '../../src/tensor/index.js';
import type { RgbImage } from '../../src/data/types.js';

function solid(width: number, height: number, rgb: [number, number, number]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = rgb[i % 3]!;
  return { width, height, data };
}

describe('resize rule (get_size_with_aspect_ratio)', () => {
  test('Python round: halves go to the even neighbour', () => {
    assert.deepEqual([0.5, 1.5, 2.5, 358.5, 359.5, -0.5, -1.5, 2.4999, 2.5001].map(pythonRound), [0, 2, 2, 358, 360, 0, -2, 2, 3]);
  });

  // Expected values from the reference function run with Python 3 (w, h) → (h, w).
  const cases: [number, number, [number, number], [number, number]][] = [
    [1280, 720, [360, 640], [320, 568]],
    [854, 480, [360, 640], [320, 569]], // 640.5 truncated to 640 (360/640); 569.33 → 569
    [480, 854, [640, 360], [569, 320]],
    [1920, 1080, [360, 640], [320, 568]],
    [640, 360, [360, 640], [320, 568]], // already 360 short: kept as is
    [640, 480, [360, 480], [320, 426]],
    [1280, 717, [358, 639], [320, 571]], // clamp: round(358.5) = 358 (half-up would give 359 × 640)
    [256, 1, [2, 512], [2, 512]], // round(2.5) = 2
    [360, 1000, [638, 230], [575, 207]],
    [1000, 563, [360, 639], [320, 568]],
    [320, 240, [360, 480], [320, 426]], // enlarging
  ];
  for (const [w, h, ytvos, a2d] of cases) {
    test(`${w}x${h} → ${ytvos[1]}x${ytvos[0]} (360/640), ${a2d[1]}x${a2d[0]} (320/576)`, () => {
      assert.deepEqual(getSizeWithAspectRatio(w, h, 360, 640), ytvos);
      assert.deepEqual(resizedSize(w, h, YTVOS_RESIZE), ytvos);
      assert.deepEqual(resizedSize(w, h, A2D_RESIZE), a2d);
    });
  }

  test('no max size: the short side alone decides', () => {
    assert.deepEqual(getSizeWithAspectRatio(4000, 1000, 360, null), [360, 1440]);
  });

  test('degenerate sizes are usage errors', () => {
    assert.throws(() => resizedSize(0, 10), UsageError);
    assert.throws(() => resizedSize(100000, 1, { shortSide: 360, maxSize: 640 }), /too extreme/);
  });
});

describe('ToTensor + Normalize', () => {
  test('float32 values equal torchvision ((x/255 − mean)/std, every step in float32)', () => {
    // From numpy float32: (np.float32(v) / np.float32(255) - mean32[c]) / std32[c]
    const expected: Record<number, [number, number, number]> = {
      0: [-2.1179039478302, -2.0357141494750977, -1.804444432258606],
      1: [-2.1007792949676514, -2.018207311630249, -1.7870151996612549],
      127: [0.0569397434592247, 0.18767505884170532, 0.4090632498264313],
      128: [0.07406462728977203, 0.20518219470977783, 0.4264925718307495],
      254: [2.231783390045166, 2.4110641479492188, 2.6225709915161133],
      255: [2.248908281326294, 2.4285714626312256, 2.640000104904175],
    };
    for (const [v, per] of Object.entries(expected)) for (let c = 0; c < 3; c++) assert.equal(normalizedValue(Number(v), c), per[c], `value ${v} channel ${c}`);
  });

  test('the same as the tensor ops torchvision runs', () => {
    const img: RgbImage = { width: 16, height: 16, data: Uint8Array.from({ length: 768 }, (_, i) => i % 256) };
    const ours = normalizeToChw(img);
    const theirs = torch.tidy(() => {
      const x = torch.fromTypedArray(img.data, [16, 16, 3]).permute(2, 0, 1).float().div(255);
      const mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1);
      const std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1);
      return x.sub(mean).div(std).contiguous().toTypedArray() as Float32Array;
    });
    assert.deepEqual(ours, theirs);
  });
});

describe('preprocessVideo', () => {
  test('1280x720 frames → [T, 1, 3, 360, 640], mask all false, sizes reported', () => {
    const frames = [solid(1280, 720, [0, 128, 255]), solid(1280, 720, [255, 1, 127])];
    const p = preprocessVideo(frames);
    try {
      assert.deepEqual(p.video.shape, [2, 1, 3, 360, 640]);
      assert.equal(p.video.dtype, 'float32');
      assert.deepEqual(p.paddingMask.shape, [2, 1, 360, 640]);
      assert.equal(p.paddingMask.dtype, 'bool');
      assert.equal(p.paddingMask.any().item(), 0);
      assert.deepEqual(p.resizedSize, [360, 640]);
      assert.deepEqual(p.originalSize, [720, 1280]);
      const corner = (t: number, c: number) => p.video.select(0, t).select(0, 0).select(0, c).select(0, 0).select(0, 0).item();
      assert.equal(corner(0, 0), normalizedValue(0, 0));
      assert.equal(corner(0, 2), normalizedValue(255, 2));
      assert.equal(corner(1, 1), normalizedValue(1, 1));
    } finally {
      torch.disposeAll(p);
    }
  });

  test('pixels go through the Pillow resize, then the normalisation', () => {
    const data = Uint8Array.from({ length: 50 * 30 * 3 }, (_, i) => (i * 37) % 256);
    const p = preprocessVideo([{ width: 50, height: 30, data }], { shortSide: 12, maxSize: null });
    try {
      assert.deepEqual(p.resizedSize, [12, 20]);
      const resized = resizeBilinearPil(data, 50, 30, 3, 20, 12);
      assert.deepEqual(p.video.toTypedArray(), normalizeToChw({ width: 20, height: 12, data: resized }));
    } finally {
      torch.disposeAll(p);
    }
  });

  test('the builder grows, names a frame of the wrong size, and clears for the next window', () => {
    const b = new VideoInputBuilder({ shortSide: 8, maxSize: null }, 1);
    for (let i = 0; i < 5; i++) b.add(solid(16, 8, [i, i, i]));
    assert.equal(b.length, 5);
    assert.throws(() => b.add(solid(8, 16, [0, 0, 0]), 'frame_0042'), /frame_0042 is 8x16 but the clip's first frame is 16x8/);
    const p = b.build();
    assert.deepEqual(p.video.shape, [5, 1, 3, 8, 16]);
    assert.equal(p.video.select(0, 4).max().item(), normalizedValue(4, 2));
    torch.disposeAll(p);
    b.clear();
    assert.throws(() => b.build(), UsageError);
    b.add(solid(16, 8, [9, 9, 9]));
    const q = b.build();
    assert.deepEqual(q.video.shape, [1, 1, 3, 8, 16]);
    torch.disposeAll(q);
  });
});

describe('nestedTensorFromVideosList', () => {
  test('pads bottom/right and in time with zeros; the mask marks exactly the padding', () => {
    const a = torch.full([3, 3, 4, 6], 1);
    const b = torch.full([2, 3, 5, 3], 2);
    const { tensors, mask } = nestedTensorFromVideosList([a, b]);
    try {
      assert.deepEqual(tensors.shape, [3, 2, 3, 5, 6]);
      assert.deepEqual(mask.shape, [3, 2, 5, 6]);
      // video 0: valid rows 0..3, all columns, all 3 frames
      const m0 = mask.select(1, 0);
      assert.equal(m0.slice(1, 0, 4).any().item(), 0);
      assert.equal(m0.slice(1, 4, 5).all().item(), 1);
      assert.equal(tensors.select(1, 0).slice(2, 4, 5).abs().sum().item(), 0);
      assert.equal(tensors.select(1, 0).slice(2, 0, 4).min().item(), 1);
      // video 1: valid 5 rows × 3 columns in frames 0..1; frame 2 entirely padding
      const m1 = mask.select(1, 1);
      assert.equal(m1.slice(0, 0, 2).slice(2, 0, 3).any().item(), 0);
      assert.equal(m1.slice(0, 0, 2).slice(2, 3, 6).all().item(), 1);
      assert.equal(m1.select(0, 2).all().item(), 1);
      assert.equal(tensors.select(1, 1).select(0, 2).abs().sum().item(), 0);
      assert.equal(tensors.select(1, 1).slice(0, 0, 2).slice(3, 0, 3).min().item(), 2);
      // numbers of valid pixels match the videos' areas
      assert.equal(mask.logicalNot().sum().item(), 3 * 4 * 6 + 2 * 5 * 3);
    } finally {
      torch.disposeAll([a, b, tensors, mask]);
    }
  });

  test('a single video is unchanged and unmasked', () => {
    const v = torch.randn([2, 3, 7, 9]);
    const { tensors, mask } = nestedTensorFromVideosList([v]);
    assert.deepEqual(tensors.shape, [2, 1, 3, 7, 9]);
    assert.equal(tensors.select(1, 0).sub(v).abs().max().item(), 0);
    assert.equal(mask.any().item(), 0);
    torch.disposeAll([v, tensors, mask]);
  });
});
