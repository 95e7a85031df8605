// torch.nn.init: the same formulas and the same RNG calls as PyTorch 1.13, so a seeded
// generator initialises a tensor exactly as PyTorch would.

import { noGrad } from '../tensor/autograd.js';
import { op } from '../tensor/dispatch.js';
import type { Generator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';

const erfinv_ = op('erfinv_');

/** (fan_in, fan_out) of a weight [out, in, *kernel]. */
export function calculateFans(t: Tensor): { fanIn: number; fanOut: number } {
  const s = t.shape;
  if (s.length < 2) throw new RangeError(`fan in and fan out need a tensor with at least 2 dimensions, got shape [${s}]`);
  const receptive = s.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: s[1]! * receptive, fanOut: s[0]! * receptive };
}

export function uniform_(t: Tensor, a = 0, b = 1, generator?: Generator): Tensor {
  return noGrad(() => t.uniform_(a, b, generator));
}

export function normal_(t: Tensor, mean = 0, std = 1, generator?: Generator): Tensor {
  return noGrad(() => t.normal_(mean, std, generator));
}

export function constant_(t: Tensor, value: number): Tensor {
  return noGrad(() => t.fill_(value));
}

export function zeros_(t: Tensor): Tensor {
  return noGrad(() => t.zero_());
}

export function ones_(t: Tensor): Tensor {
  return constant_(t, 1);
}

export function xavierUniform_(t: Tensor, gain = 1, generator?: Generator): Tensor {
  const { fanIn, fanOut } = calculateFans(t);
  const std = gain * Math.sqrt(2 / (fanIn + fanOut));
  const a = Math.sqrt(3) * std;
  return uniform_(t, -a, a, generator);
}

export function xavierNormal_(t: Tensor, gain = 1, generator?: Generator): Tensor {
  const { fanIn, fanOut } = calculateFans(t);
  return normal_(t, 0, gain * Math.sqrt(2 / (fanIn + fanOut)), generator);
}

/** kaiming_uniform_ with PyTorch's defaults (fan_in, leaky_relu gain sqrt(2/(1+a²))). */
export function kaimingUniform_(t: Tensor, a = 0, mode: 'fan_in' | 'fan_out' = 'fan_in', generator?: Generator): Tensor {
  const fans = calculateFans(t);
  const fan = mode === 'fan_in' ? fans.fanIn : fans.fanOut;
  const gain = Math.sqrt(2 / (1 + a * a));
  const bound = Math.sqrt(3) * (gain / Math.sqrt(fan));
  return uniform_(t, -bound, bound, generator);
}

/** Truncated normal on [a, b] by inverse-CDF sampling, exactly torch.nn.init.trunc_normal_. */
export function truncNormal_(t: Tensor, mean = 0, std = 1, a = -2, b = 2, generator?: Generator): Tensor {
  const normCdf = (x: number) => (1 + erf(x / Math.SQRT2)) / 2;
  const l = normCdf((a - mean) / std);
  const u = normCdf((b - mean) / std);
  return noGrad(() => {
    t.uniform_(2 * l - 1, 2 * u - 1, generator);
    erfinv_(t.h);
    t.mul_(std * Math.SQRT2);
    t.add_(mean);
    t.clamp_(a, b);
    return t;
  });
}

// math.erf in double precision (JS has none): Taylor series for |x| < 3, continued
// fraction for erfc beyond; both converge to full double precision in that range.
function erf(x: number): number {
  if (Math.abs(x) >= 6) return Math.sign(x);
  if (Math.abs(x) < 3) {
    let sum = x;
    let term = x;
    const x2 = x * x;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  const z = Math.abs(x);
  let f = 0;
  for (let k = 60; k >= 1; k--) f = (k / 2) / (z + f);
  const erfc = Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + f);
  return Math.sign(x) * (1 - erfc);
}
