import { openInput, readAllFrames } from './src/media/video-input.js';
const src = await openInput(process.argv[2]!, JSON.parse(process.argv[3] ?? '{}'));
console.log(src.info);
const t0 = Date.now();
for await (const f of src.frames()) console.log(f.index, f.sourceIndex, f.name, f.time?.toFixed(3), f.image.width, f.image.height, Array.from(f.image.data.subarray(0, 3)));
console.log('ms', Date.now() - t0);
