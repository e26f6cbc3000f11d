import { generateKeyPairSync } from 'node:crypto';
import type { StandInApp } from '../../stand-ins/github-auth-stand-in.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

/** A GitHub App for tests: its private key (what the function holds) and what the stand-in knows of it. */
export const APP_KEY = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
export const APP: StandInApp = {
  appId: 4242,
  publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  installations: [
    { id: 11, account: 'octo-org' },
    { id: 22, account: 'hubot' },
  ],
};
/** The function's environment for App mode with this App. */
export const APP_ENV = {
  GITHUB_TOKEN: '',
  GITHUB_APP_ID: String(APP.appId),
  GITHUB_APP_PRIVATE_KEY: APP_KEY,
};
