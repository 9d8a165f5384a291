import { nodeFigures } from './node.ts';
import { summarise } from './stats.ts';
const n = await nodeFigures(Number(process.env.RUNS ?? 10), (s) => console.error(s));
for (const [k, xs] of Object.entries(n.jobMs)) console.log(`apply->Complete | ${k} | ${JSON.stringify(summarise(xs))}`);
for (const [k, xs] of Object.entries(n.servingMs)) console.log(`serving->program | ${k} | ${JSON.stringify(summarise(xs))}`);
console.log(JSON.stringify(n.burst));
