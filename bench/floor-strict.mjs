// The strict floor: the least a server can do to start a runner for a queued delivery, on node:http alone.
// Verify the HMAC, parse, then the four calls a runner needs: GET the job (is it still queued?), create the Job,
// register the JIT runner, create the Secret the pod mounts. Through node:http keep-alive agents (no undici), with
// no framework, no validation beyond the signature, no retries, no logging, no metrics and no durability (the Job
// is created running; nothing survives a crash half way). The function's calls beyond these four are the price of
// its guarantees; `bench/run.ts` states the ceiling that sets. The Job is the one the function makes (its runner
// pod, rendered once by the bench into FLOOR_JOB_TEMPLATE with `__NAME__` for the name), sent as a string.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';

const { PORT, WEBHOOK_SECRET, GITHUB_API_URL, GITHUB_TOKEN, K8S_URL, FLOOR_JOB_TEMPLATE } = process.env;
const jobTemplate = readFileSync(FLOOR_JOB_TEMPLATE, 'utf8');
const agent = new Agent({ keepAlive: true, maxSockets: 128 });
const gh = {
  authorization: `token ${GITHUB_TOKEN}`,
  accept: 'application/vnd.github+json',
  'content-type': 'application/json',
};
const kube = { authorization: 'Bearer stand-in-token', 'content-type': 'application/json' };
const namespace = '/namespaces/default';

/** One JSON call through the keep-alive agent; resolves with the parsed answer. */
function call(base, method, path, headers, body) {
  const url = new URL(base + path);
  const data = body === undefined || typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        agent,
        headers: data === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(data) },
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString() || 'null')));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', async () => {
    if (req.method === 'GET') return res.end('ok');
    const body = Buffer.concat(chunks);
    const expected = Buffer.from(`sha256=${createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex')}`);
    const given = Buffer.from(req.headers['x-hub-signature-256'] ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      res.statusCode = 401;
      return res.end();
    }
    const event = JSON.parse(body.toString());
    const { id, labels } = event.workflow_job;
    const repo = `/repos/${event.repository.owner.login}/${event.repository.name}`;
    const name = `runner-${id}`;
    const job = await call(GITHUB_API_URL, 'GET', `${repo}/actions/jobs/${id}`, gh);
    if (job.status !== 'queued') return res.end(JSON.stringify({ outcome: 'ignored' }));
    const created = await call(
      K8S_URL,
      'POST',
      `/apis/batch/v1${namespace}/jobs`,
      kube,
      jobTemplate.replaceAll('__NAME__', name),
    );
    const jit = await call(GITHUB_API_URL, 'POST', `${repo}/actions/runners/generate-jitconfig`, gh, {
      name,
      runner_group_id: 1,
      labels,
      work_folder: '_work',
    });
    await call(K8S_URL, 'POST', `/api/v1${namespace}/secrets`, kube, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name,
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name, uid: created.metadata.uid }],
      },
      stringData: { jitconfig: jit.encoded_jit_config },
    });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ outcome: 'created', job: name }));
  });
}).listen(Number(PORT), '127.0.0.1');
