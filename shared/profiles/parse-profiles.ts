/**
 * Parses and validates RUNNER_PROFILES_FILE. Longer than 250 lines on purpose: every field's check sits beside its
 * message, so that all problems of a file are reported at once.
 */
import type { V1Affinity, V1Toleration } from '@kubernetes/client-node';
import { load as loadYaml } from 'js-yaml';
import {
  DEFAULT_DIND_IMAGES,
  DEFAULT_RUNNER_IMAGES,
  RUNNER_MODES,
  type RunnerMode,
} from '../config/runner-modes.js';
import { parseLabelMatchers } from '../labels/label-matchers.js';
import {
  type CacheVolume,
  DEFAULT_ACTIVE_DEADLINE_SECONDS,
  DEFAULT_RESOURCES,
  type RunnerProfile,
} from './runner-profile.js';

/** The global settings that profiles fall back to. */
export interface ProfileDefaults {
  readonly mode: RunnerMode;
  /** RUNNER_IMAGE when set: the image of every profile that names none. */
  readonly image: string | undefined;
  /** DIND_IMAGE when set: the daemon image of every profile that names none. */
  readonly dindImage: string | undefined;
}

const PROFILE_KEYS = [
  'name',
  'match',
  'mode',
  'image',
  'dindImage',
  'resources',
  'nodeSelector',
  'tolerations',
  'affinity',
  'runtimeClassName',
  'activeDeadlineSeconds',
  'env',
  'volumes',
  'maxRunners',
] as const;
const RESOURCE_KEYS = ['requests', 'limits'];
const TOLERATION_KEYS = ['key', 'operator', 'value', 'effect', 'tolerationSeconds'];
const AFFINITY_KEYS = ['nodeAffinity', 'podAffinity', 'podAntiAffinity'];
const VOLUME_KEYS = ['name', 'mountPath', 'claimName', 'readOnly'];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Env names the pod sets itself; a profile must not override how the runner gets its JIT config or Docker. */
const RESERVED_ENV = new Set(['ACTIONS_RUNNER_INPUT_JITCONFIG', 'DOCKER_HOST']);

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Parses and validates a profiles file (YAML): `profiles:` a list, each with a `name` and a `match` in
 * LABEL_MATCHERS syntax. Unknown keys are errors. Throws one Error listing every problem, each naming the profile
 * and the field.
 */
export function parseProfiles(text: string, defaults: ProfileDefaults): RunnerProfile[] {
  let document: unknown;
  try {
    document = loadYaml(text);
  } catch (error) {
    throw new Error(`RUNNER_PROFILES_FILE is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  const problems: string[] = [];
  if (!isObject(document) || !Array.isArray(document.profiles)) {
    throw new Error('RUNNER_PROFILES_FILE must be a mapping with a "profiles" list');
  }
  for (const key of Object.keys(document))
    if (key !== 'profiles') problems.push(`unknown top-level key "${key}"`);
  const names = new Set<string>();
  const profiles = document.profiles.map((entry, index) => {
    const where =
      isObject(entry) && typeof entry.name === 'string' ? `profile "${entry.name}"` : `profile #${index + 1}`;
    const problem = (field: string, message: string) => problems.push(`${where}: ${field} ${message}`);
    if (!isObject(entry)) {
      problems.push(`${where}: must be a mapping`);
      return undefined;
    }
    for (const key of Object.keys(entry)) {
      if (!(PROFILE_KEYS as readonly string[]).includes(key)) problem(key, 'is not a known field');
    }
    const name = typeof entry.name === 'string' && DNS_LABEL.test(entry.name) ? entry.name : undefined;
    if (name === undefined) problem('name', 'must be a lowercase DNS label (a-z, 0-9, -)');
    else if (names.has(name)) problem('name', 'is used twice');
    else names.add(name);

    let matchers: RunnerProfile['matchers'] = [];
    if (entry.match !== undefined) {
      if (typeof entry.match !== 'string') problem('match', 'must be a string in LABEL_MATCHERS syntax');
      else {
        try {
          matchers = parseLabelMatchers(entry.match);
        } catch (error) {
          problem('match', (error as Error).message.replace('LABEL_MATCHERS', 'the matcher'));
        }
      }
    }
    const mode = entry.mode ?? defaults.mode;
    if (!(RUNNER_MODES as readonly unknown[]).includes(mode))
      problem('mode', `must be one of ${RUNNER_MODES.join(', ')}`);
    const runnerMode = mode as RunnerMode;
    const named = optionalString(entry, 'image', problem) ?? defaults.image;
    const image = named ?? DEFAULT_RUNNER_IMAGES[runnerMode] ?? '';
    const dindImage =
      optionalString(entry, 'dindImage', problem) ??
      defaults.dindImage ??
      DEFAULT_DIND_IMAGES[runnerMode] ??
      '';
    const runtimeClassName = optionalString(entry, 'runtimeClassName', problem);
    if (runtimeClassName !== undefined && !DNS_LABEL.test(runtimeClassName))
      problem('runtimeClassName', 'must be a DNS label');

    const profile: RunnerProfile = {
      name: name ?? `profile-${index + 1}`,
      matchers,
      mode: runnerMode,
      image,
      followsReleases: named === undefined && entry.image === undefined,
      dindImage,
      resources: resourcesOf(entry.resources, problem),
      activeDeadlineSeconds:
        wholeNumber(entry, 'activeDeadlineSeconds', problem) ?? DEFAULT_ACTIVE_DEADLINE_SECONDS,
      env: envOf(entry.env, problem),
      volumes: volumesOf(entry.volumes, problem),
      ...optional('nodeSelector', stringMap(entry.nodeSelector, 'nodeSelector', problem)),
      ...optional(
        'tolerations',
        listOfKnown<V1Toleration>(entry.tolerations, 'tolerations', TOLERATION_KEYS, problem),
      ),
      ...optional('affinity', knownKeys<V1Affinity>(entry.affinity, 'affinity', AFFINITY_KEYS, problem)),
      ...optional('runtimeClassName', runtimeClassName),
      ...optional('maxRunners', wholeNumber(entry, 'maxRunners', problem)),
    };
    return profile;
  });
  if (profiles.length === 0) problems.push('"profiles" is empty: name at least one profile');
  if (problems.length > 0) throw new Error(`RUNNER_PROFILES_FILE has problems: ${problems.join('; ')}`);
  return profiles.filter((profile): profile is RunnerProfile => profile !== undefined);
}

type Problem = (field: string, message: string) => void;

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function optionalString(entry: Json, key: string, problem: Problem): string | undefined {
  const value = entry[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') {
    problem(key, 'must be a non-empty string');
    return undefined;
  }
  return value;
}

function wholeNumber(entry: Json, key: string, problem: Problem): number | undefined {
  const value = entry[key];
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    problem(key, 'must be a whole number of at least 1');
    return undefined;
  }
  return value as number;
}

function stringMap(value: unknown, field: string, problem: Problem): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    problem(field, 'must map names to strings');
    return undefined;
  }
  return value as Record<string, string>;
}

function knownKeys<T>(value: unknown, field: string, keys: string[], problem: Problem): T | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) {
    problem(field, 'must be a mapping');
    return undefined;
  }
  for (const key of Object.keys(value))
    if (!keys.includes(key)) problem(`${field}.${key}`, 'is not a known field');
  return value as T;
}

function listOfKnown<T>(value: unknown, field: string, keys: string[], problem: Problem): T[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) {
    problem(field, 'must be a list');
    return undefined;
  }
  for (const [index, item] of value.entries()) knownKeys(item, `${field}[${index}]`, keys, problem);
  return value as T[];
}

function resourcesOf(value: unknown, problem: Problem): RunnerProfile['resources'] {
  const resources = knownKeys<Record<string, unknown>>(value, 'resources', RESOURCE_KEYS, problem);
  if (resources === undefined) return DEFAULT_RESOURCES;
  const quantities = (key: string) => {
    const map = resources[key];
    if (map === undefined) return undefined;
    if (!isObject(map) || !Object.values(map).every((q) => typeof q === 'string' || typeof q === 'number')) {
      problem(`resources.${key}`, 'must map resource names to quantities');
      return undefined;
    }
    return Object.fromEntries(Object.entries(map).map(([name, quantity]) => [name, String(quantity)]));
  };
  const requests = quantities('requests') ?? withoutStorage(DEFAULT_RESOURCES.requests);
  const limits = quantities('limits') ?? withoutStorage(DEFAULT_RESOURCES.limits);
  // A profile that names no limits keeps the default ones: "limits by default". Ephemeral storage is bounded
  // too unless the profile names it itself (then exactly as named: a default beside a profile's own request or
  // limit could make the request exceed the limit).
  if (STORAGE in requests || STORAGE in limits) return { requests, limits };
  return {
    requests: { ...requests, [STORAGE]: DEFAULT_RESOURCES.requests?.[STORAGE] ?? '1Gi' },
    limits: { ...limits, [STORAGE]: DEFAULT_RESOURCES.limits?.[STORAGE] ?? '20Gi' },
  };
}

const STORAGE = 'ephemeral-storage';

function withoutStorage(quantities: Record<string, string> | undefined): Record<string, string> {
  const { [STORAGE]: _storage, ...rest } = quantities ?? {};
  return rest;
}

function envOf(value: unknown, problem: Problem): RunnerProfile['env'] {
  if (value === undefined) return [];
  if (!isObject(value)) {
    problem('env', 'must map variable names to string values');
    return [];
  }
  return Object.entries(value).flatMap(([name, text]) => {
    if (!ENV_NAME.test(name) || typeof text !== 'string') {
      problem(`env.${name}`, 'must be a variable name with a string value');
      return [];
    }
    if (RESERVED_ENV.has(name)) {
      problem(`env.${name}`, 'is set by the function itself');
      return [];
    }
    return [{ name, value: text }];
  });
}

function volumesOf(value: unknown, problem: Problem): readonly CacheVolume[] {
  const list = listOfKnown<Json>(value, 'volumes', VOLUME_KEYS, problem);
  if (list === undefined) return [];
  return list.flatMap((volume, index) => {
    const name = volume.name;
    const mountPath = volume.mountPath;
    if (typeof name !== 'string' || !DNS_LABEL.test(name)) {
      problem(`volumes[${index}].name`, 'must be a DNS label');
      return [];
    }
    if (typeof mountPath !== 'string' || !mountPath.startsWith('/')) {
      problem(`volumes[${index}].mountPath`, 'must be an absolute path');
      return [];
    }
    if (volume.claimName !== undefined && typeof volume.claimName !== 'string') {
      problem(`volumes[${index}].claimName`, 'must be the name of a PersistentVolumeClaim');
      return [];
    }
    return [
      {
        name,
        mountPath,
        ...(typeof volume.claimName === 'string' ? { claimName: volume.claimName } : {}),
        ...(volume.readOnly === true ? { readOnly: true } : {}),
      },
    ];
  });
}
