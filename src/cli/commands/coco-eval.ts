// `soc coco-eval`: pycocotools-compatible COCO evaluation of a results file against a ground truth.

import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { type Command, Option } from 'commander';
import { FileFormatError } from '../../errors.js';
import { type CocoEvalResult, STAT_LABELS, cocoEval } from '../../evaluation/coco/cocoeval.js';
import type { IouType } from '../../evaluation/coco/dataset.js';

interface CocoEvalCliOptions {
  gt: string;
  pred: string;
  iouType: IouType;
  useCats: '0' | '1';
  json?: string;
  top1?: boolean;
}

/** Reads and parses a JSON file, naming the file in any error. */
function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new FileFormatError(file, `cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FileFormatError(file, `not valid JSON (${(e as Error).message})`);
  }
}

/** Writes a file atomically: a temporary file in the same folder, then a rename over the target. */
function writeFileAtomic(file: string, content: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, content);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new FileFormatError(file, `cannot write the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

const TOP1_LABEL = 'top-1 protocol: only the highest-scoring prediction of each image is scored (not the reference protocol, which scores every query)';

/** The `--json` document: statistics, parameters and per-category AP/AR. */
function jsonReport(r: CocoEvalResult, o: CocoEvalCliOptions): unknown {
  const p = r.params;
  return {
    stats: r.stats,
    stat_labels: STAT_LABELS,
    protocol: o.top1 ? 'top1' : 'all-predictions',
    params: {
      iouType: p.iouType,
      useCats: p.useCats ? 1 : 0,
      imgIds: p.imgIds,
      catIds: p.catIds,
      iouThrs: Array.from(p.iouThrs),
      recThrs: Array.from(p.recThrs),
      maxDets: p.maxDets,
      areaRng: p.areaRng,
      areaRngLbl: p.areaRngLbl,
    },
    per_category: p.useCats ? r.perCategory : null,
    num_images: p.imgIds.length,
    num_detections: r.numDetections,
    gt: o.gt,
    pred: o.pred,
  };
}

export function register(program: Command): void {
  program
    .command('coco-eval')
    .description('COCO mask (segm) or box (bbox) evaluation of a results file, identical to pycocotools COCOeval')
    .requiredOption('--gt <file>', 'COCO ground-truth JSON ({images, annotations, categories})')
    .requiredOption('--pred <file>', 'results JSON: [{image_id, category_id, score, segmentation | bbox}]')
    .addOption(new Option('--iou-type <type>', 'IoU of masks or of boxes').choices(['segm', 'bbox']).default('segm'))
    .addOption(new Option('--use-cats <0|1>', 'evaluate per category (1) or pool categories (0, as A2D/JHMDB do)').choices(['0', '1']).default('1'))
    .option('--json <file>', 'also write {stats, params, per_category} to this JSON file')
    .option('--top1', 'score only the top-scoring prediction of each image (labelled; not the reference protocol)')
    .action((o: CocoEvalCliOptions) => {
      const gt = readJson(o.gt);
      const results = readJson(o.pred);
      const r = cocoEval(gt, results, {
        iouType: o.iouType,
        useCats: o.useCats === '1',
        top1: !!o.top1,
        gtSource: o.gt,
        resultsSource: o.pred,
      });
      for (const w of r.warnings) process.stderr.write(`soc: warning: ${w}\n`);
      const out: string[] = [];
      if (o.top1) out.push(TOP1_LABEL);
      out.push(...r.lines);
      process.stdout.write(`${out.join('\n')}\n`);
      if (o.json) writeFileAtomic(o.json, `${JSON.stringify(jsonReport(r, o), null, 2)}\n`);
    });
}
