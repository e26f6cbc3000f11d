import { spawnSync } from 'node:child_process';

/** Whether a command (from Debian's `prometheus` package, say) is installed. */
export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

export const PROMETHEUS_TOOLS = ['promtool', 'prometheus'] as const;
export const missingPrometheusTools = PROMETHEUS_TOOLS.filter((tool) => !hasCommand(tool));

if (missingPrometheusTools.length > 0) {
  process.stderr.write(
    `skipping the Prometheus tests: ${missingPrometheusTools.join(', ')} not installed ` +
      '(apt-get install prometheus; .ci/run does)\n',
  );
}

/** Runs promtool with input on stdin; returns its exit status and output. */
export function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { input, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}
