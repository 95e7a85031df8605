import { readFileSync } from 'node:fs';
import { loadRgbImage } from './src/data/image.js';
for (const n of ['q.jpg','q420.jpg','q444.jpg']) {
  const a = await loadRgbImage('/tmp/pilcheck/'+n);
  const b = new Uint8Array(readFileSync('/tmp/pilcheck/'+n+'.pil'));
  let diff=0,maxd=0; for (let i=0;i<b.length;i++){const d=Math.abs(a.data[i]!-b[i]!); if(d){diff++;maxd=Math.max(maxd,d);}}
  console.log(n, 'differing', diff, 'of', b.length, 'max', maxd);
}
