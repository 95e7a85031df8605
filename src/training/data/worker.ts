// Worker-thread entry of the data loader: opens the dataset split once, then loads and augments
// the samples it is asked for and sends them back with their buffers transferred. Tasks run
// concurrently (file reads and JPEG decoding are asynchronous).

import { parentPort, workerData } from 'node:worker_threads';
import { type WorkerData, type WorkerReply, type WorkerTask, prepareSample, transferList } from './loader.js';
import { ClipSource } from './sources.js';

const data = workerData as WorkerData;
const port = parentPort!;
const source = ClipSource.open(data.spec);

port.on('message', (task: WorkerTask) => {
  source
    .then((s) => prepareSample(s, data, task.sampleIndex, task.epoch))
    .then(
      (clip) => port.postMessage({ id: task.id, clip } satisfies WorkerReply, transferList(clip)),
      (e: Error) => port.postMessage({ id: task.id, error: { name: e?.constructor?.name ?? 'Error', message: String(e?.message ?? e), stack: e?.stack } } satisfies WorkerReply),
    );
});
