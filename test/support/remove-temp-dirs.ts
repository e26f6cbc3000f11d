/** Setup file of the test configurations: removes the temp directories each test file made (`tempDir`). */
import { afterAll } from 'vitest';
import { removeTempDirs } from './temp-dir.js';

afterAll(removeTempDirs);
