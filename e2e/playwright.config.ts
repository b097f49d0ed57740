import { defineConfig } from '@playwright/test';
import path from 'path';

const repoRoot = path.resolve(__dirname, '..');
const results = path.join(repoRoot, '.sandbox', 'test-results');

/**
 * Browser tests against the demo stack (sandbox world + backend + frontend), started by
 * the README's start command unless one is already running. Debian's Chromium is used:
 * Playwright's own browser downloads are not reachable here.
 */
export default defineConfig({
  testDir: 'tests',
  timeout: 120_000,
  expect: { timeout: 30_000 },
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  outputDir: path.join(results, 'e2e-artifacts'),
  reporter: [
    ['list'],
    ['json', { outputFile: path.join(results, 'e2e.json') }],
  ],
  webServer: {
    command: `bash ${path.join(repoRoot, 'scripts', 'start')}`,
    url: 'http://localhost:3000',
    reuseExistingServer: !process.env.CI,
    timeout: 600_000,
    stdout: 'pipe',
    gracefulShutdown: { signal: 'SIGINT', timeout: 30_000 },
  },
  use: {
    baseURL: 'http://localhost:3000',
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
});
