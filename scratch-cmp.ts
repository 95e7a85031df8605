import { decodeVideoWithFfmpeg } from './src/data/video.js';
import { openInput, readAllFrames } from './src/media/video-input.js';
const file = process.argv[2]!;
const a = await decodeVideoWithFfmpeg(file);
const b = await readAllFrames(await openInput(file, {}, { autorotate: false }));
let diff = 0, maxd = 0;
for (let i = 0; i < a.length; i++) for (let j = 0; j < a[i]!.data.length; j++) { const d = Math.abs(a[i]!.data[j]! - b[i]!.image.data[j]!); if (d) { diff++; maxd = Math.max(maxd, d); } }
console.log(a.length, b.length, 'differing bytes', diff, 'max', maxd);
