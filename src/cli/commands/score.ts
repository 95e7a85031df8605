// `soc score`: J / F / J&F of existing prediction folders against ground truth (no model).

import { type Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { SocError } from '../../errors.js';
import type { FrameProblem } from '../../evaluation/protocols/frame-scores.js';
import { defaultJobs } from '../../evaluation/protocols/frame-scores.js';
import { jfCsv, jfMetrics, jfTable, perObjectJson, writeJsonAtomic, writeTextAtomic } from '../../evaluation/protocols/report.js';
import { type ScoreFoldersResult, type ScoreLayout, scoreFolders } from '../../evaluation/protocols/score.js';
import { positiveInt } from '../options.js';

interface ScoreCliOptions {
  pred: string;
  gt: string;
  dataset: ScoreLayout;
  split?: string;
  json?: string;
  csv?: string;
  perVideo?: boolean;
  jobs: number;
  allowErrors?: boolean;
  progress: boolean;
}

const SHOWN_PROBLEMS = 30;

/** One line per bad file, at most `limit` (the JSON report has them all). */
export function describeProblems(problems: readonly FrameProblem[], limit = SHOWN_PROBLEMS): string {
  const counts = new Map<string, number>();
  for (const p of problems) counts.set(p.kind, (counts.get(p.kind) ?? 0) + 1);
  const lines = problems.slice(0, limit).map((p) => `  ${p.file}: ${p.kind === 'missing' ? 'missing file' : p.message} (${p.sequence}, frame ${p.frame})`);
  if (problems.length > limit) lines.push(`  … and ${problems.length - limit} more`);
  const byKind = [...counts].map(([k, n]) => `${n} ${k}`).join(', ');
  return `${problems.length} prediction file(s) with problems (${byKind}):\n${lines.join('\n')}`;
}

function jsonReport(r: ScoreFoldersResult, o: ScoreCliOptions): unknown {
  return {
    tool: 'soc score',
    dataset: o.dataset,
    pred: o.pred,
    gt: r.gtDescription,
    objects: r.sequences.length,
    frames: r.frames,
    ...jfMetrics(r.summary),
    per_video: perObjectJson(r.summary),
    problems: r.problems,
    problems_scored_as_empty: r.problems.length > 0,
    extra_predictions: r.extraPredictions,
  };
}

export function register(program: Command): void {
  program
    .command('score')
    .description('J, F and J&F of prediction folders against ground truth (DAVIS statistics: mean, recall, decay), without a model')
    .requiredOption('--pred <dir>', 'predictions: <video>/<frame>.png (davis) or <video>/<exp_id>/<frame>.png (mevis; an Annotations/ submission folder works too)')
    .requiredOption('--gt <dir>', 'ground truth: <video>/<frame>.png (davis), or a MeViS root / split folder with mask_dict.json + meta_expressions.json (mevis)')
    .addOption(new Option('--dataset <layout>', 'folder layout').choices(['davis', 'mevis']).makeOptionMandatory())
    .option('--split <name>', 'mevis: the split under --gt (default valid_u; not needed when --gt is the split folder)')
    .option('--json <file>', 'write the global numbers (DAVIS names), per-video values and per-file problems as JSON')
    .option('--csv <file>', 'write one row per video (Sequence, J&F-Mean, J-Mean, J-Recall, J-Decay, F-Mean, F-Recall, F-Decay) and a last row "mean" with the global numbers')
    .option('--per-video', 'print one row per video (per expression for mevis)')
    .option('--jobs <n>', 'scoring threads', positiveInt, defaultJobs())
    .option('--allow-errors', 'score missing, unreadable or wrongly sized prediction files as empty masks (listed in the report) instead of failing')
    .option('--no-progress', 'no progress bar')
    .addHelpText(
      'after',
      '\nA pixel is foreground when its value is non-zero (palette index or grey level). Without --allow-errors any bad\n' +
        'prediction file (missing, not a readable PNG, size different from the ground truth) fails the run after all\n' +
        'files were checked, listing each one; the ground truth must always be complete and readable.\n\n' +
        'Examples:\n  soc score --dataset davis --pred results/anno_0 --gt DAVIS/Annotations/480p --per-video\n' +
        '  soc score --dataset mevis --pred run/Annotations --gt mevis/valid_u --json scores.json',
    )
    .action(async (o: ScoreCliOptions) => {
      const bar = o.progress && process.stderr.isTTY ? new cliProgress.SingleBar({ format: 'scoring |{bar}| {value}/{total} {unit} | {eta_formatted} left', stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
      const unit = o.dataset === 'mevis' ? 'expressions' : 'videos';
      let r: ScoreFoldersResult;
      try {
        r = await scoreFolders({
          pred: o.pred,
          gt: o.gt,
          dataset: o.dataset,
          split: o.split,
          jobs: o.jobs,
          onProgress: (done, total) => {
            if (!bar) return;
            if (done === 1) bar.start(total, 0, { unit });
            bar.update(done, { unit });
          },
        });
      } finally {
        bar?.stop();
      }
      if (r.problems.length > 0) {
        const text = describeProblems(r.problems);
        if (!o.allowErrors) throw new SocError(`${text}\nNothing was scored; fix the files or pass --allow-errors to score them as empty masks.`);
        process.stderr.write(`soc: warning: ${text}\nThese frames were scored as empty predictions.\n`);
      }
      if (r.extraPredictions.length > 0) {
        const shown = r.extraPredictions.slice(0, 10).join(', ');
        process.stderr.write(`soc: warning: ${r.extraPredictions.length} prediction folder(s) not in the ground truth were ignored: ${shown}${r.extraPredictions.length > 10 ? ', …' : ''}\n`);
      }
      const label = r.problems.length > 0 ? `(${r.problems.length} bad files as empty)` : '';
      process.stdout.write(`${jfTable(r.summary, { perObject: o.perVideo, label, unit })}\n`);
      if (o.json) writeJsonAtomic(o.json, jsonReport(r, o));
      if (o.csv) writeTextAtomic(o.csv, jfCsv(r.summary));
    });
}
