// The warm-throughput floor: node:http + node:crypto doing what the function does for a queued delivery, with
// plain fetch and no framework, no validation beyond the signature, no retries, no logging, no metrics:
// verify the HMAC, parse, GET the job, create the Job, register the JIT runner, create the Secret, resume the Job.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const { PORT, WEBHOOK_SECRET, GITHUB_API_URL, GITHUB_TOKEN, K8S_URL } = process.env;
const gh = { authorization: `token ${GITHUB_TOKEN}`, 'content-type': 'application/json' };
const kube = { authorization: 'Bearer stand-in-token', 'content-type': 'application/json' };
const namespace = `${K8S_URL}/apis/batch/v1/namespaces/default`;

createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', async () => {
    const body = Buffer.concat(chunks);
    const expected = Buffer.from(`sha256=${createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex')}`);
    const given = Buffer.from(req.headers['x-hub-signature-256'] ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      res.statusCode = 401;
      return res.end();
    }
    const event = JSON.parse(body.toString());
    const { id, labels } = event.workflow_job;
    const repo = `${GITHUB_API_URL}/repos/${event.repository.owner.login}/${event.repository.name}`;
    const name = `runner-${id}`;
    await (await fetch(`${repo}/actions/jobs/${id}`, { headers: gh })).json();
    const job = await (
      await fetch(`${namespace}/jobs`, {
        method: 'POST',
        headers: kube,
        body: JSON.stringify({
          apiVersion: 'batch/v1',
          kind: 'Job',
          metadata: { name },
          spec: { suspend: true },
        }),
      })
    ).json();
    const jit = await (
      await fetch(`${repo}/actions/runners/generate-jitconfig`, {
        method: 'POST',
        headers: gh,
        body: JSON.stringify({ name, runner_group_id: 1, labels, work_folder: '_work' }),
      })
    ).json();
    await fetch(`${K8S_URL}/api/v1/namespaces/default/secrets`, {
      method: 'POST',
      headers: kube,
      body: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name,
          ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name, uid: job.metadata.uid }],
        },
        stringData: { jitconfig: jit.encoded_jit_config },
      }),
    }).then((r) => r.arrayBuffer());
    await fetch(`${namespace}/jobs/${name}`, {
      method: 'PATCH',
      headers: { ...kube, 'content-type': 'application/json-patch+json' },
      body: JSON.stringify([{ op: 'replace', path: '/spec/suspend', value: false }]),
    }).then((r) => r.arrayBuffer());
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ outcome: 'created', job: name }));
  });
}).listen(Number(PORT), '127.0.0.1');
