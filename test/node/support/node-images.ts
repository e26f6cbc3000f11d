import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const nodeScript = fileURLToPath(new URL('../../../scripts/node/node.sh', import.meta.url));

/** Where scripts/images/build.sh keeps its archives and images.tsv (docs/images.md, "Cache"). */
export const imagesCache = (): string =>
  process.env.IMAGES_CACHE ?? join(homedir(), '.cache', 'kube-actions-runner', 'images');

/** The archives scripts/images/build.sh made, by image reference (its images.tsv: ref, key, archive, ...). */
export function builtImages(cache = imagesCache()): Map<string, string> {
  const tsv = join(cache, 'images.tsv');
  if (!existsSync(tsv)) throw new Error(`no ${tsv}: build the images first (bash scripts/images/build.sh)`);
  const images = new Map<string, string>();
  for (const line of readFileSync(tsv, 'utf8').split('\n')) {
    const [ref, , archive] = line.split('\t');
    if (ref && archive) images.set(ref, archive);
  }
  return images;
}

/** The one built image whose reference `match` accepts; fails naming what was built. */
export function builtImage(
  images: Map<string, string>,
  what: string,
  match: (ref: string) => boolean,
): string {
  const found = [...images.keys()].filter(match);
  if (found.length !== 1) {
    throw new Error(
      `want one ${what} among the built images, found ${found.length} (${[...images.keys()].join(', ')}): bash scripts/images/build.sh`,
    );
  }
  return found[0] as string;
}

/** Imports these images' archives into the running node's containerd (`node.sh import`): pods run them unpulled. */
export function importImages(images: Map<string, string>, refs: readonly string[]): void {
  const archives = refs.map((ref) => {
    const archive = images.get(ref);
    if (archive === undefined || !existsSync(archive)) {
      throw new Error(`no archive of ${ref}: bash scripts/images/build.sh`);
    }
    return archive;
  });
  const imported = spawnSync('bash', [nodeScript, 'import', ...archives], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (imported.status !== 0) throw new Error(`node.sh import failed (exit ${imported.status})`);
}
