#!/usr/bin/env node
/**
 * Sums self time of a V8 .cpuprofile (node --cpu-prof) by function and by file, and prints the top N.
 * Usage: node bench/profile-summary.js FILE.cpuprofile [N] [--by=url|fn|pkg]
 */
import { readFileSync } from 'node:fs';

const [file, nArg] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const by = (process.argv.find((a) => a.startsWith('--by=')) ?? '--by=fn').slice(5);
const n = Number(nArg ?? 30);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(prof.nodes.map((x) => [x.id, x]));
const self = new Map();
const dts = prof.timeDeltas;
for (let i = 0; i < prof.samples.length; i++) self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (dts[i] ?? 0));
const total = dts.reduce((a, b) => a + b, 0);

const shortUrl = (u) => u.replace(/^file:\/\//, '').replace(/^.*node_modules\//, 'nm:').replace(process.cwd() + '/', '');
const pkgOf = (u) => {
  if (!u) return '(native/vm)';
  if (u.startsWith('node:')) return u.split('/')[0];
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  return m ? m[1] : shortUrl(u).split('/').slice(0, 2).join('/');
};
const sums = new Map();
for (const [id, us] of self) {
  const { callFrame: cf } = nodes.get(id);
  const key =
    by === 'url' ? shortUrl(cf.url) || '(native)' : by === 'pkg' ? pkgOf(cf.url) : `${cf.functionName || '(anonymous)'} ${shortUrl(cf.url)}:${cf.lineNumber + 1}`;
  sums.set(key, (sums.get(key) ?? 0) + us);
}
console.log(`total ${(total / 1000).toFixed(1)} ms sampled`);
for (const [k, us] of [...sums].sort((a, b) => b[1] - a[1]).slice(0, n)) {
  console.log(`${(us / 1000).toFixed(1).padStart(9)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`);
}
