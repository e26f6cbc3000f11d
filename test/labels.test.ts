import { describe, expect, it } from 'vitest';
import { labelsCover, matchLabels, parseLabelMatchers } from '../shared/labels/label-matchers.js';
import { sameLabels } from '../shared/labels/same-labels.js';

describe('parseLabelMatchers', () => {
  it.each([
    [undefined, []],
    ['', []],
    ['   ', []],
    ['linux', [['linux']]],
    ['linux,x64', [['linux'], ['x64']]],
    ['linux+x64', [['linux', 'x64']]],
    ['linux+x64;arm64', [['linux', 'x64'], ['arm64']]],
    ['Linux + X64 ; GPU', [['linux', 'x64'], ['gpu']]],
    ['a+b,c;d+e', [['a', 'b'], ['c'], ['d', 'e']]],
  ])('parses %j', (text, expected) => {
    expect(parseLabelMatchers(text)).toEqual(expected);
  });

  it.each(['linux,', 'linux++x64', ';linux', '+'])('rejects %j with the malformed part named', (text) => {
    expect(() => parseLabelMatchers(text)).toThrow(`LABEL_MATCHERS "${text}" has an empty label`);
  });
});

describe('matchLabels', () => {
  const cases: [string, string[], string | undefined, boolean][] = [
    ['any self-hosted job when unset', ['self-hosted', 'k8s'], undefined, true],
    ['never a job without self-hosted, even when unset', ['ubuntu-latest'], undefined, false],
    ['never a job without self-hosted, even when a matcher fits', ['linux', 'x64'], 'linux', false],
    ['self-hosted in any case', ['Self-Hosted'], undefined, true],
    ['one of the alternatives', ['self-hosted', 'x64'], 'linux,x64', true],
    ['none of the alternatives', ['self-hosted', 'arm64'], 'linux,x64', false],
    ['all of a + matcher', ['self-hosted', 'linux', 'x64', 'extra'], 'linux+x64', true],
    ['only part of a + matcher', ['self-hosted', 'linux'], 'linux+x64', false],
    ['a later ; matcher', ['self-hosted', 'arm64'], 'linux+x64;arm64', true],
    ['labels case-insensitively', ['SELF-HOSTED', 'Linux', 'X64'], 'linux+x64', true],
    ['matchers case-insensitively', ['self-hosted', 'gpu'], 'GPU', true],
    ['a matcher naming self-hosted', ['self-hosted'], 'self-hosted', true],
  ];
  it.each(cases)('%s', (_name, labels, matchers, expected) => {
    expect(matchLabels(labels, parseLabelMatchers(matchers))).toBe(expected);
  });
});

describe('labelsCover', () => {
  it.each([
    [['self-hosted', 'linux', 'gpu'], ['self-hosted', 'linux'], true],
    [['self-hosted', 'linux'], ['self-hosted', 'linux', 'gpu'], false],
    [['Self-Hosted', 'LINUX'], ['self-hosted', 'linux'], true],
    [['self-hosted'], [], true],
  ])('a runner with %j takes a job asking for %j: %s', (runner, job, expected) => {
    expect(labelsCover(runner, job)).toBe(expected);
  });
});

describe('sameLabels', () => {
  // GitHub compares labels case-insensitively and keeps no order; a repeated label names nothing new.
  it.each([
    [['self-hosted', 'linux'], ['Linux', 'SELF-HOSTED'], true],
    [['self-hosted', 'linux'], ['linux', 'self-hosted', 'linux'], true],
    [[], [], true],
    [['self-hosted', 'linux'], ['self-hosted', 'linux', 'gpu'], false],
    [['self-hosted', 'linux'], ['self-hosted'], false],
    [['self-hosted', 'linux'], ['self-hosted', 'linux-arm64'], false],
    // Joined naively, these two lists would read the same.
    [['a,b'], ['a', 'b'], false],
  ])('%j and %j: %s', (a, b, same) => {
    expect(sameLabels(a, b)).toBe(same);
    expect(sameLabels(b, a)).toBe(same);
  });
});
