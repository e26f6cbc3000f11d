/**
 * A loopback stand-in for statsd_exporter's TCP listener, following its contract: it reads newline-separated
 * DogStatsD lines (`name:value|c|#key:value,...`) to the end of the stream, then closes; counters add up per
 * name and tag set, gauges keep the last value, histogram observations are kept. The real statsd_exporter is
 * used by the metrics proof (`npm run test:metrics`); this one lets unit tests look at every line and make the
 * receiver slow or unreachable.
 */
import { createServer, type Server, type Socket } from 'node:net';

export interface StatsdStandIn {
  readonly address: string;
  readonly lines: string[];
  /** Connections accepted so far. */
  readonly connections: number;
  counter(name: string, tags?: Record<string, string>): number | undefined;
  gauge(name: string, tags?: Record<string, string>): number | undefined;
  observations(name: string): number[];
  /** `hang`: accept connections and never read or close them (a stuck receiver). */
  setMode(mode: 'normal' | 'hang'): void;
  close(): Promise<void>;
}

const key = (name: string, tags: Record<string, string>) =>
  `${name}{${Object.entries(tags)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',')}}`;

/** Parses one line as statsd_exporter does for the types the push sends; throws on anything else. */
export function parseStatsdLine(line: string): {
  name: string;
  value: number;
  type: 'c' | 'g' | 'h';
  tags: Record<string, string>;
} {
  const match = /^([^:|#,]+):([^|]+)\|(c|g|h)(?:\|#(.*))?$/.exec(line);
  if (match === null) throw new Error(`not a statsd line: ${line}`);
  const tags: Record<string, string> = {};
  for (const tag of match[4]?.split(',') ?? []) {
    const at = tag.indexOf(':');
    if (at <= 0 || at === tag.length - 1) throw new Error(`malformed tag ${tag} in ${line}`);
    tags[tag.slice(0, at)] = tag.slice(at + 1);
  }
  const value = Number(match[2]);
  if (!Number.isFinite(value)) throw new Error(`malformed value in ${line}`);
  return { name: match[1] as string, value, type: match[3] as 'c' | 'g' | 'h', tags };
}

export async function startStatsdStandIn(port = 0): Promise<StatsdStandIn> {
  const lines: string[] = [];
  const counters = new Map<string, number>();
  const gauges = new Map<string, number>();
  const observed = new Map<string, number[]>();
  const open = new Set<Socket>();
  let mode: 'normal' | 'hang' = 'normal';
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections += 1;
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => undefined);
    if (mode === 'hang') {
      socket.pause();
      return;
    }
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('end', () => {
      for (const line of text.split('\n').filter((l) => l !== '')) {
        lines.push(line);
        const { name, value, type, tags } = parseStatsdLine(line);
        const id = key(name, tags);
        if (type === 'c') counters.set(id, (counters.get(id) ?? 0) + value);
        if (type === 'g') gauges.set(id, value);
        if (type === 'h') observed.set(name, [...(observed.get(name) ?? []), value]);
      }
      socket.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    address: `127.0.0.1:${boundPort}`,
    lines,
    get connections() {
      return connections;
    },
    counter: (name, tags = {}) => counters.get(key(name, tags)),
    gauge: (name, tags = {}) => gauges.get(key(name, tags)),
    observations: (name) => observed.get(name) ?? [],
    setMode(next) {
      mode = next;
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
