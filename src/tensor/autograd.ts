// Autograd entry points beyond Tensor.backward: grad-mode scopes and torch.autograd.grad.

import { native } from '../native/binding.js';
import { Tensor, wrap } from './tensor.js';

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const previous = native().setGradEnabled(enabled);
  try {
    const result = fn();
    if (result instanceof Promise) {
      throw new TypeError('noGrad/enableGrad: fn must be synchronous');
    }
    return result;
  } finally {
    native().setGradEnabled(previous);
  }
}

/** Runs fn without recording autograd history (torch.no_grad). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs fn with autograd recording on (torch.enable_grad). */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

export function isGradEnabled(): boolean {
  return native().isGradEnabled();
}

/** Sets grad mode globally; returns the previous setting. */
export function setGradEnabled(on: boolean): boolean {
  return native().setGradEnabled(on);
}

/** Computes and accumulates gradients of `tensors` into the leaves (torch.autograd.backward). */
export function backward(
  tensors: readonly Tensor[],
  gradTensors: readonly (Tensor | null)[] | null = null,
  options: { retainGraph?: boolean; createGraph?: boolean } = {},
): void {
  native().backward(
    tensors.map((t) => t.h),
    gradTensors ? gradTensors.map((g) => (g ? g.h : null)) : null,
    options.retainGraph,
    options.createGraph ?? false,
  );
}

/** Gradients of outputs with respect to inputs, without accumulating (torch.autograd.grad). */
export function grad(
  outputs: readonly Tensor[],
  inputs: readonly Tensor[],
  options: { gradOutputs?: readonly (Tensor | null)[]; retainGraph?: boolean; createGraph?: boolean; allowUnused?: boolean } = {},
): (Tensor | null)[] {
  const res = native().autogradGrad(
    outputs.map((t) => t.h),
    inputs.map((t) => t.h),
    options.gradOutputs ? options.gradOutputs.map((g) => (g ? g.h : null)) : null,
    options.retainGraph,
    options.createGraph ?? false,
    options.allowUnused ?? false,
  );
  return res.map((h) => (h ? wrap(h) : null));
}
