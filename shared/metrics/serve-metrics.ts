import { createHash, timingSafeEqual } from 'node:crypto';
import type { Metrics } from './create-metrics.js';

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * The answer to `GET /metrics`: the registry in Prometheus text format. With a token configured, only a request
 * with `Authorization: Bearer <token>` gets it (a PodMonitor or ServiceMonitor sends one with `authorization`);
 * the others get 401 before any metric is collected, so an unauthenticated scrape costs no LIST either. Compared
 * in constant time (both sides hashed first, so their lengths leak nothing).
 */
export async function serveMetrics(
  metrics: Metrics,
  token: string | undefined,
  authorization: string | undefined,
): Promise<Response> {
  if (token !== undefined) {
    const presented = /^Bearer (.+)$/i.exec(authorization ?? '')?.[1] ?? '';
    if (!timingSafeEqual(digest(presented), digest(token))) {
      return Response.json(
        { error: 'missing or wrong bearer token for GET /metrics: send the METRICS_TOKEN as a bearer token' },
        { status: 401, headers: { 'www-authenticate': 'Bearer realm="metrics"' } },
      );
    }
  }
  return new Response(await metrics.registry.metrics(), {
    status: 200,
    headers: { 'content-type': metrics.registry.contentType },
  });
}
