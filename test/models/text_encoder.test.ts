// RoBERTa + txt_proj + 1-D text position encoding against the golden fixtures.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import * as torch from '../../src/tensor/index.js';
import type { Tensor } from '../../src/tensor/index.js';
import { RobertaConfigSchema, RobertaModel, robertaPositionIds } from '../../src/models/text/roberta.js';
import { FeatureResizer, PositionEmbeddingSine1D, forwardText } from '../../src/models/text/text_projection.js';
import { loadTensors, need } from '../helpers/golden.js';
import { maxAbsDiff } from '../helpers/assert.js';
import { sharedPath } from '../helpers/shared.js';

const TOL = 1e-4;

function stripPrefix(m: Map<string, Tensor>, prefix: string): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, v] of m) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
  return out;
}

interface TextParts {
  textEncoder: RobertaModel;
  txtProj: FeatureResizer;
  textPos: PositionEmbeddingSine1D;
}

function build(t: TestContext, name: string): { dir: string; parts: TextParts } | null {
  const dir = sharedPath(t, 'golden', name);
  if (!dir) return null;
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const rc = RobertaConfigSchema.parse(config.text_encoder_config);
  const dModel: number = config.DeformTransformer.d_model;
  const weights = loadTensors(join(dir, 'weights.safetensors'), (n) => n.startsWith('text_encoder.') || n.startsWith('txt_proj.'));
  const textEncoder = new RobertaModel(rc);
  textEncoder.loadStateDict(stripPrefix(weights, 'text_encoder.'));
  const txtProj = new FeatureResizer(rc.hidden_size, dModel, 0.1);
  txtProj.loadStateDict(stripPrefix(weights, 'txt_proj.'));
  torch.disposeAll(weights);
  textEncoder.eval();
  txtProj.eval();
  return { dir, parts: { textEncoder, txtProj, textPos: new PositionEmbeddingSine1D(dModel, { normalize: true }) } };
}

/** Our name for every fixture hook of the text path. */
function ourName(key: string): string {
  const layer = /^hooks\.text_encoder\.encoder\.layer\.(\d+):0$/.exec(key);
  if (layer) return `text_encoder:hidden_states.${Number(layer[1]) + 1}`;
  if (key === 'hooks.text_encoder.embeddings') return 'text_encoder:hidden_states.0';
  return key.replace(/^hooks\./, '');
}

for (const name of ['socpp_tiny', 'soc_tiny']) {
  describe(`text path on golden/${name}`, () => {
    test('hooks.text_encoder*, txt_proj#*, text_pos and forward_text outputs within 1e-4', (t) => {
      const b = build(t, name);
      if (!b) return;
      const inputs = loadTensors(join(b.dir, 'inputs.safetensors'), (n) => n === 'input_ids' || n === 'attention_mask');
      const golden = loadTensors(
        join(b.dir, 'outputs.safetensors'),
        (n) => /^hooks\.(text_encoder|txt_proj#|text_pos$|method\.SOC\.forward_text:)/.test(n),
      );
      assert.ok(golden.size >= 14, `expected the text hooks, found ${golden.size}`);
      const seen = new Map<string, Tensor>();
      const errors = new Map<string, number>();
      torch.noGrad(() =>
        torch.tidy(() => {
          const out = forwardText(b.parts, need(inputs, 'input_ids'), need(inputs, 'attention_mask'), (n, v) => seen.set(n, v.clone().keep()));
          seen.set('method.SOC.forward_text:0.tensors', out.wordFeatures.clone().keep());
          seen.set('method.SOC.forward_text:0.mask', out.wordMask.clone().keep());
          seen.set('method.SOC.forward_text:1', out.sentenceFeature.clone().keep());
          // text_pos is stored [B, C, S]; the model uses it as [S, B, C]
          assert.equal(maxAbsDiff(out.textPos.permute(1, 2, 0), seen.get('text_pos')!), 0);
        }),
      );
      for (const [key, want] of golden) {
        const got = seen.get(ourName(key));
        assert.ok(got, `no output for ${key}`);
        assert.deepEqual(got.shape, want.shape, `${key} shape`);
        if (want.dtype === 'bool') {
          assert.deepEqual(got.toNumbers(), want.toNumbers(), key);
        } else {
          const e = maxAbsDiff(got, want);
          errors.set(key, e);
          assert.ok(e <= TOL, `${key}: max abs diff ${e}`);
        }
      }
      const groups = new Map<string, number>();
      for (const [k, e] of errors) {
        const g = k.replace(/layer\.\d+/, 'layer.*').replace(/hidden_states\.\d+/, 'hidden_states.*').replace(/#\d+$/, '#*').replace(/forward_text:.*/, 'forward_text:*');
        groups.set(g, Math.max(groups.get(g) ?? 0, e));
      }
      t.diagnostic(`max abs error per hook group: ${[...groups].map(([g, e]) => `${g} ${e.toExponential(2)}`).join(', ')}`);
      torch.disposeAll([...seen.values(), ...golden.values(), ...inputs.values()]);
      b.parts.textEncoder.dispose();
      b.parts.txtProj.dispose();
    });

    test('padded batch2 text: masks, positions, and row 0 equals the unpadded pass', (t) => {
      const b = build(t, name);
      if (!b) return;
      const inputs = loadTensors(join(b.dir, 'inputs.safetensors'), (n) => n.startsWith('batch2.input_ids') || n.startsWith('batch2.attention_mask') || n === 'input_ids' || n === 'attention_mask');
      const ids = need(inputs, 'batch2.input_ids');
      const am = need(inputs, 'batch2.attention_mask');
      const [B, S] = ids.shape as [number, number];
      torch.noGrad(() =>
        torch.tidy(() => {
          const out = forwardText(b.parts, ids, am);
          assert.deepEqual(out.wordFeatures.shape, [S, B, 128]);
          assert.deepEqual(out.textPos.shape, [S, B, 128]);
          assert.deepEqual(out.wordMask.toArray(), (am.toArray() as number[][]).map((r) => r.map((v) => v !== 1)));
          // padded sequence: the encoding of its last real token equals that of an unpadded sequence's last token
          const realLen = (am.toArray() as number[][])[1]!.reduce((a, v) => a + v, 0);
          const pos1 = out.textPos.select(1, 1);
          const lastReal = pos1.select(0, realLen - 1);
          // x / (x_last + 1e-6) · 2π with x = realLen at the last real token and all pads after it
          const want = Math.sin((realLen / (realLen + 1e-6)) * 2 * Math.PI);
          assert.ok(Math.abs(lastReal.select(0, 0).item() - want) < 1e-5);
          assert.equal(maxAbsDiff(pos1.select(0, S - 1), lastReal), 0);
          // position ids: pad → 1, tokens 2, 3, …
          const pid = robertaPositionIds(ids, 1).toArray() as number[][];
          assert.deepEqual(pid[1], [...Array.from({ length: realLen }, (_, i) => i + 2), ...new Array<number>(S - realLen).fill(1)]);
          // row 0 is the same sentence unpadded: attention must ignore nothing, equal to the B=1 pass
          const single = forwardText(b.parts, need(inputs, 'input_ids'), need(inputs, 'attention_mask'));
          assert.ok(maxAbsDiff(out.wordFeatures.select(1, 0), single.wordFeatures.select(1, 0)) < 1e-5);
          // row 1's real tokens equal a pass of the unpadded sentence alone (padding keys get zero attention)
          const alone = forwardText(b.parts, ids.slice(0, 1, 2).slice(1, 0, realLen), am.slice(0, 1, 2).slice(1, 0, realLen));
          assert.ok(maxAbsDiff(out.wordFeatures.select(1, 1).slice(0, 0, realLen), alone.wordFeatures.select(1, 0)) < 1e-5);
          assert.ok(maxAbsDiff(out.sentenceFeature.select(0, 1), alone.sentenceFeature.select(0, 0)) < 1e-5);
        }),
      );
      torch.disposeAll([...inputs.values()]);
      b.parts.textEncoder.dispose();
      b.parts.txtProj.dispose();
    });
  });
}
