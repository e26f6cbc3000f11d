import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { PINNED_RUNNER_VERSION } from '../../shared/config/runner-modes.js';
import { startCluster } from '../e2e/global-setup.js';
import { builtImage, builtImages, importImages } from './support/node-images.js';

const script = fileURLToPath(new URL('../../scripts/node/node.sh', import.meta.url));
const packageJson = fileURLToPath(new URL('../../package.json', import.meta.url));

declare module 'vitest' {
  export interface ProvidedContext {
    /** The real node's name. */
    node: string;
    /** Debian's static busybox as an image, imported into the node's containerd (never pulled). */
    busyboxImage: string;
    /** scripts/images/build.sh's images, imported into the node's containerd (never pulled). */
    nodeImages: NodeImages;
  }
}

export interface NodeImages {
  /** The runner stand-in at the pinned runner release (its run.sh speaks the runner broker's protocol). */
  readonly runner: string;
  /** The Docker daemon stand-ins for docker:dind and docker:dind-rootless. */
  readonly dind: string;
  readonly dindRootless: string;
  /** The function's own image, from ./Dockerfile. */
  readonly function: string;
}

/** Imports the images the suite runs into the node's containerd; returns their references. */
function importNodeImages(): NodeImages {
  const built = builtImages();
  const version = (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
  const images: NodeImages = {
    runner: builtImage(
      built,
      'runner stand-in',
      (ref) => ref === `localhost/kar-runner-stand-in:${PINNED_RUNNER_VERSION}`,
    ),
    dind: builtImage(built, 'dind stand-in', (ref) => /^localhost\/kar-docker:[\d.]+-dind$/.test(ref)),
    dindRootless: builtImage(built, 'dind-rootless stand-in', (ref) =>
      /^localhost\/kar-docker:[\d.]+-dind-rootless$/.test(ref),
    ),
    function: builtImage(built, "the function's image", (ref) =>
      ref.endsWith(`/kube-actions-runner:${version}`),
    ),
  };
  importImages(built, Object.values(images));
  return images;
}

/** Starts the node (building it first when needed); returns what `node.sh start` printed, as key=value pairs. */
function startNode(): Map<string, string> {
  const started = spawnSync('bash', [script, 'start'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (started.status === 3) {
    throw new Error('npm run test:node needs Go (1.26+) and, as root, apt-get to build the node once');
  }
  if (started.status !== 0) throw new Error(`the node did not start (exit ${started.status})`);
  return new Map(
    started.stdout
      .trim()
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

/**
 * Starts the control plane and the real node once for the suite, and stops both afterwards (the node first, so
 * that its pods are stopped through the kubelet). `KEEP_CONTROL_PLANE=1` keeps both running.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  const cluster = await startCluster();
  const node = startNode();
  const name = node.get('node');
  const busyboxImage = node.get('busybox_image');
  if (!name || !busyboxImage) throw new Error('node.sh start did not print the node and its busybox image');
  project.provide('kubeconfig', cluster.kubeconfig);
  project.provide('kubectl', cluster.kubectl);
  project.provide('node', name);
  project.provide('busyboxImage', busyboxImage);
  project.provide('nodeImages', importNodeImages());
  return () => {
    if (process.env.KEEP_CONTROL_PLANE === '1') return;
    spawnSync('bash', [script, 'stop'], { stdio: 'inherit' });
    cluster.stop();
  };
}
