import { createKubeApi } from '../shared/kubernetes/kube-api.js';
import { startRecordingServer } from '../test/support/recording-server.js';
const server = await startRecordingServer((_q, r) => r.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
const api = createKubeApi({ server: new URL(server.url), tls: { rejectUnauthorized: true }, authorization: async () => undefined, source: 't' });
for (const conc of [1, 10]) {
  const before = server.connections();
  await Promise.all(Array.from({ length: conc }, async () => { for (let i = 0; i < 100; i++) await api.request({ method: i % 2 ? 'GET' : 'POST', path: '/x', body: i % 2 ? undefined : { a: 1 }, signal: AbortSignal.timeout(4000) }); }));
  console.log('concurrency', conc, 'new connections', server.connections() - before);
}
api.close(); server.close();
