/**
 * A fault-injecting proxy in front of a real Kubernetes API server, for the fault run: the function talks plain
 * HTTP to the proxy, which forwards each request with the cluster's own TLS credentials, or answers an injected
 * 5xx/409 instead, or forwards and then holds the answer back (the write happens; the answer is late or lost).
 */
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

export interface ApiFault {
  readonly status?: number;
  readonly delayMs?: number;
}

export async function startApiProxy(kubeconfigPath: string) {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  const target = new URL(kubeConfig.getCurrentCluster()?.server ?? '');
  const tls: RequestOptions = {};
  await kubeConfig.applyToHTTPSOptions(tls);
  let chaos: { probability: number; faults: readonly ApiFault[]; random: () => number } | undefined;

  const forward = (
    req: IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const upstream = httpsRequest(
        {
          ...tls,
          hostname: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: {
            ...(tls.headers as Record<string, string> | undefined),
            ...(req.headers['content-type'] ? { 'content-type': req.headers['content-type'] } : {}),
            accept: req.headers.accept ?? 'application/json',
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 502,
              headers: { 'content-type': String(res.headers['content-type'] ?? 'application/json') },
              body: Buffer.concat(chunks),
            }),
          );
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const fault =
        chaos && chaos.random() < chaos.probability
          ? chaos.faults[Math.floor(chaos.random() * chaos.faults.length)]
          : undefined;
      if (fault?.status !== undefined) {
        res.writeHead(fault.status, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            kind: 'Status',
            apiVersion: 'v1',
            status: 'Failure',
            message: 'injected failure',
            code: fault.status,
          }),
        );
        return;
      }
      try {
        const answer = await forward(req, Buffer.concat(chunks));
        if (fault?.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
        if (res.destroyed) return;
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body);
      } catch {
        res.writeHead(502);
        res.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    chaos(probability: number, faults: readonly ApiFault[], random: () => number) {
      chaos = probability > 0 ? { probability, faults, random } : undefined;
    },
    writeKubeconfig(dir: string, namespace: string): string {
      const path = join(dir, 'proxy.kubeconfig');
      writeFileSync(
        path,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'proxy', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
          users: [{ name: 'proxy', user: { token: 'unused-the-proxy-authenticates' } }],
          contexts: [{ name: 'proxy', context: { cluster: 'proxy', user: 'proxy', namespace } }],
          'current-context': 'proxy',
        }),
      );
      return path;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
