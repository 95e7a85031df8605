// Pillow-exact bilinear resizing and PyTorch-exact nearest mask resizing.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { F } from '../../src/nn/index.js';
import * as torch from '../../src/tensor/index.js';
import { pilBilinearTaps, resizeBilinearPil, resizeMaskNearest, resizeRgbPil, torchNearestIndices } from '../../src/media/resize.js';

const sha256 = (a: Uint8Array) => createHash('sha256').update(a).digest('hex');

/** The deterministic test pattern the PIL hashes below were computed on. */
function pattern(width: number, height: number): Uint8Array {
  const a = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) a[(y * width + x) * 3 + c] = (x * x * 31 + y * y * 17 + x * y * 7 + c * 101) % 251;
    }
  }
  return a;
}

describe('Pillow BILINEAR, hand-computed', () => {
  test('4 → 2 (shrink): triangle widened ×2, weights 3/7 3/7 1/7 in 22-bit fixed point', () => {
    // out[0]: centre 1.0 over inputs 0..2 with weights ∝ (0.75, 0.75, 0.25) → 0·3/7 + 70·3/7 + 140·1/7 = 50
    // out[1]: centre 3.0 over inputs 1..3 with weights ∝ (0.25, 0.75, 0.75) → 10 + 60 + 90 = 160
    assert.deepEqual([...resizeBilinearPil(Uint8Array.from([0, 70, 140, 210]), 4, 1, 1, 2, 1)], [50, 160]);
    const taps = pilBilinearTaps(4, 2);
    assert.deepEqual([...taps.weights.subarray(0, 3)], [1797559, 1797559, 599186]); // round(2^22·3/7), round(2^22/7)
    assert.deepEqual([...taps.start], [0, 1]);
    assert.deepEqual([...taps.count], [3, 3]);
  });

  test('2 → 4 (enlarge): plain triangle, edges clamp to the border sample', () => {
    // outputs a, .75a+.25b, .25a+.75b, b; with b = 101: 25.25 → 25 and 75.75 → 76
    assert.deepEqual([...resizeBilinearPil(Uint8Array.from([0, 101]), 2, 1, 1, 4, 1)], [0, 25, 76, 101]);
    assert.deepEqual([...resizeBilinearPil(Uint8Array.from([0, 101]), 1, 2, 1, 1, 4)], [0, 25, 76, 101]);
  });

  test('the horizontal pass is rounded to 8 bits before the vertical pass', () => {
    // rows average to 0.5 → 1 and 1.5 → 2, then (1 + 2) / 2 = 1.5 → 2, although the exact mean is 1.
    assert.deepEqual([...resizeBilinearPil(Uint8Array.from([0, 1, 1, 2]), 2, 2, 1, 1, 1)], [2]);
  });

  test('same size is a copy; channels are independent', () => {
    const a = pattern(5, 4);
    const same = resizeBilinearPil(a, 5, 4, 3, 5, 4);
    assert.deepEqual(same, a);
    assert.notEqual(same, a);
    const rgb = resizeBilinearPil(a, 5, 4, 3, 3, 2);
    const red = resizeBilinearPil(Uint8Array.from({ length: 20 }, (_, i) => a[i * 3]!), 5, 4, 1, 3, 2);
    assert.deepEqual([...red], [...rgb].filter((_, i) => i % 3 === 0));
  });
});

describe('Pillow BILINEAR, against PIL 9.4.0', () => {
  // Made with Debian's python3-pil 9.4.0:
  //   a = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
  //   np.asarray(Image.fromarray(a, 'RGB').resize((ow, oh), Image.BILINEAR))
  const cases = [
    {
      what: '7x5 → 3x2 (seed 1)',
      size: [7, 5, 3, 2],
      input: [255, 228, 34, 121, 243, 189, 6, 131, 102, 168, 82, 193, 187, 150, 81, 243, 205, 24, 236, 8, 246, 164, 231, 36, 210, 111, 172, 210, 174, 176, 218, 242, 169, 114, 205, 63, 160, 47, 212, 79, 72, 112, 120, 222, 69, 31, 95, 108, 36, 109, 238, 69, 51, 81, 228, 211, 202, 58, 202, 65, 76, 70, 193, 104, 42, 250, 209, 164, 2, 44, 178, 140, 98, 2, 243, 21, 50, 29, 14, 7, 53, 50, 151, 221, 46, 60, 230, 192, 164, 156, 127, 214, 154, 194, 195, 137, 72, 153, 74, 209, 58, 76, 105, 84, 10],
      output: [146, 174, 121, 145, 150, 143, 147, 115, 133, 119, 134, 140, 106, 119, 138, 85, 96, 99],
    },
    {
      what: '4x3 → 9x7 (seed 2)',
      size: [4, 3, 9, 7],
      input: [193, 88, 107, 214, 72, 3, 249, 66, 100, 113, 251, 27, 99, 234, 105, 76, 30, 177, 239, 105, 31, 25, 113, 208, 253, 111, 134, 115, 157, 205, 135, 23, 213, 228, 186, 85],
      output: [193, 88, 107, 197, 85, 90, 206, 78, 43, 216, 72, 8, 232, 69, 52, 247, 66, 95, 196, 138, 72, 136, 220, 39, 113, 251, 27, 180, 109, 107, 182, 101, 94, 189, 82, 58, 197, 67, 31, 221, 69, 59, 245, 71, 87, 190, 134, 76, 125, 205, 59, 100, 231, 53, 139, 171, 106, 139, 151, 105, 137, 96, 104, 141, 50, 100, 190, 68, 82, 237, 86, 63, 173, 121, 88, 93, 158, 118, 63, 172, 130, 99, 234, 105, 95, 200, 117, 85, 109, 149, 85, 34, 169, 158, 68, 104, 230, 101, 39, 156, 108, 100, 61, 112, 178, 25, 113, 208, 165, 181, 117, 153, 165, 129, 121, 122, 161, 98, 84, 184, 144, 77, 149, 189, 71, 114, 162, 99, 127, 126, 132, 147, 112, 144, 155, 231, 129, 130, 211, 131, 142, 157, 135, 173, 112, 133, 200, 130, 87, 194, 148, 40, 188, 169, 89, 154, 190, 152, 116, 199, 176, 103, 253, 111, 134, 230, 119, 146, 169, 139, 177, 116, 150, 205, 125, 90, 209, 134, 30, 213, 171, 86, 163, 212, 159, 106, 228, 186, 85],
    },
    {
      what: '13x1 → 5x1 (seed 3)',
      size: [13, 1, 5, 1],
      input: [248, 194, 190, 207, 147, 26, 237, 21, 245, 211, 239, 45, 5, 157, 159, 60, 54, 236, 109, 46, 199, 82, 32, 205, 36, 7, 134, 222, 57, 146, 8, 149, 14, 15, 22, 10, 144, 208, 24],
      output: [227, 138, 128, 130, 144, 144, 76, 51, 200, 99, 54, 123, 66, 110, 24],
    },
  ];
  for (const c of cases) {
    test(`random ${c.what}`, () => {
      const [w, h, ow, oh] = c.size as [number, number, number, number];
      assert.deepEqual([...resizeBilinearPil(Uint8Array.from(c.input), w, h, 3, ow, oh)], c.output);
    });
  }

  // sha256 of np.asarray(Image.fromarray(pattern(w, h), 'RGB').resize((ow, oh), Image.BILINEAR)).tobytes(),
  // pattern = (x²·31 + y²·17 + x·y·7 + c·101) mod 251 as above. The first three are the reference's
  // usual 360/640 resizes (landscape HD, DAVIS 480p, portrait).
  const hashes: [number, number, number, number, string][] = [
    [1280, 720, 640, 360, '9473a17dc2bf9ab40ff2fd8735941a6c4024a7124a6a40117e2eddc139ff28ed'],
    [854, 480, 640, 360, 'a065b8111fd2e91ece9575706e0ca4f5e63aa5d9f69df4a86e3f26a0dc210af4'],
    [480, 854, 360, 640, '31eb840d5d3117e697cfd7e58d6e14d596c760167e91215c5d30b6553ba5d331'],
    [64, 40, 27, 17, 'b0b5e1e794067b10b6b53ab2e484acbff38a45c111980519f16a5263e909b2bb'],
    [20, 15, 47, 33, '0e832c29f050d35b3271f192fca4d4caceb0a1e8119f820365b1ccd8384cf46d'],
    [1000, 563, 640, 360, '074d3cecd67b0ea2a7f7edc202acb1f22a5f2d03e2fc09e9e7aab218e3985ccb'],
    [1920, 1080, 640, 360, '4aeca3e844ff81ec361fb0f3797c6f2d49b5a06b0aeb856374487a65c47d96aa'], // 7-tap kernels
    [97, 61, 10, 7, '929e26ca5ee5fff7b83db2a952846f70c6221e68535014b1822c4c2af4e7a194'], // ~20-tap kernels
  ];
  for (const [w, h, ow, oh, hash] of hashes) {
    test(`pattern ${w}x${h} → ${ow}x${oh} is byte-identical`, () => {
      const out = resizeRgbPil({ width: w, height: h, data: pattern(w, h) }, ow, oh);
      assert.equal(out.width, ow);
      assert.equal(out.height, oh);
      assert.equal(sha256(out.data), hash);
    });
  }

  // The same for one channel: Image.fromarray(pattern(w, h)[..., 1].copy(), 'L').resize(…)
  for (const [w, h, ow, oh, hash] of [
    [97, 61, 10, 7, '74432732b3eebcf29344fc8716c34eb9e86081a5bd1a5cfcd599bce4f79d4253'],
    [50, 40, 120, 33, '8257fbe203d111e0b3acdf8fd505d235aa5b65400a4294a82a0dc4be64c139aa'],
  ] as const) {
    test(`grayscale pattern ${w}x${h} → ${ow}x${oh} is byte-identical`, () => {
      const green = pattern(w, h).filter((_, i) => i % 3 === 1);
      assert.equal(sha256(resizeBilinearPil(green, w, h, 1, ow, oh)), hash);
    });
  }
});

describe('PyTorch legacy nearest for masks', () => {
  test('hand-computed indices: src = min(⌊dst·float32(in/out)⌋, in − 1)', () => {
    assert.deepEqual([...torchNearestIndices(5, 3)], [0, 1, 3]); // scale 5/3: 0, 1.67, 3.33
    assert.deepEqual([...torchNearestIndices(3, 6)], [0, 0, 1, 1, 2, 2]); // ×2: dst >> 1
    assert.deepEqual([...torchNearestIndices(4, 4)], [0, 1, 2, 3]);
    assert.deepEqual([...torchNearestIndices(2, 5)], [0, 0, 0, 1, 1]); // scale 0.4
  });

  test('equals F.interpolate(mode=nearest) on random masks of awkward sizes', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (const [w, h, ow, oh] of [
      [97, 61, 640, 360],
      [640, 360, 1280, 720],
      [360, 640, 97, 173],
      [33, 17, 33, 34],
      [1000, 563, 17, 9],
    ] as const) {
      const data = Uint8Array.from({ length: w * h }, () => (rand() < 0.5 ? 1 : 0));
      const ours = resizeMaskNearest({ width: w, height: h, data }, ow, oh);
      const theirs = torch.tidy(() =>
        F.interpolate(torch.fromTypedArray(data, [1, 1, h, w]).float(), { size: [oh, ow], mode: 'nearest' }).to('uint8').toBytes(),
      );
      assert.deepEqual(ours.data, new Uint8Array(theirs), `${w}x${h} → ${ow}x${oh}`);
    }
  });
});
