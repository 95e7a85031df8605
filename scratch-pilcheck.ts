import { readFileSync } from 'node:fs';
import { resizeBilinearPil } from './src/media/resize.js';
const meta = JSON.parse(readFileSync('/tmp/pilcheck/meta.json','utf8'));
let bad = 0;
for (const m of meta) {
  const a = new Uint8Array(readFileSync(`/tmp/pilcheck/${m.name}.in`));
  const exp = new Uint8Array(readFileSync(`/tmp/pilcheck/${m.name}.out`));
  const expL = new Uint8Array(readFileSync(`/tmp/pilcheck/${m.name}.L`));
  const got = resizeBilinearPil(a, m.w, m.h, 3, m.ow, m.oh);
  const r = new Uint8Array(m.w*m.h); for (let i=0;i<r.length;i++) r[i]=a[i*3]!;
  const gotL = resizeBilinearPil(r, m.w, m.h, 1, m.ow, m.oh);
  let d = 0, dL = 0;
  for (let i=0;i<exp.length;i++) if (exp[i]!==got[i]) d++;
  for (let i=0;i<expL.length;i++) if (expL[i]!==gotL[i]) dL++;
  if (d || dL || got.length !== exp.length) bad++;
  console.log(m.name, `${m.w}x${m.h}->${m.ow}x${m.oh}`, 'diff', d, dL);
}
console.log(bad ? 'MISMATCH' : 'ALL EQUAL');
