import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    // Never the real desktop notifier from a test (notify.desktop defaults to true); tests that want it set '1'.
    env: { WO_NOTIFY_DESKTOP: '0' },
  },
});
