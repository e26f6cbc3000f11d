import { readFileSync, readdirSync } from 'node:fs';
const dir = process.argv[2];
const prof = JSON.parse(readFileSync(dir + '/' + readdirSync(dir)[0]));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map();
const dt = prof.timeDeltas;
prof.samples.forEach((s, i) => self.set(s, (self.get(s) ?? 0) + (dt[i] ?? 0)));
// total by url (self)
const byUrl = new Map();
const byFn = new Map();
for (const [id, t] of self) {
  const n = byId.get(id); const cf = n.callFrame;
  const url = cf.url.replace(/.*node_modules\//, '').replace(/^node:/, '') || '(' + cf.functionName + ')';
  byUrl.set(url, (byUrl.get(url) ?? 0) + t);
  const key = cf.functionName + ' ' + url + ':' + cf.lineNumber;
  byFn.set(key, (byFn.get(key) ?? 0) + t);
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
console.log('total ms', (total / 1000).toFixed(1), 'start', prof.startTime, 'end', prof.endTime, 'wall', ((prof.endTime - prof.startTime) / 1000).toFixed(1));
console.log([...byUrl].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, v]) => (v / 1000).toFixed(1).padStart(7) + ' ' + k).join('\n'));
console.log('---');
console.log([...byFn].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, v]) => (v / 1000).toFixed(1).padStart(7) + ' ' + k).join('\n'));
