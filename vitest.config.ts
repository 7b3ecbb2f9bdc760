import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration tests each start their own redis-server and ffmpeg work; two cores are shared.
    fileParallelism: false,
    // ONAIR_TEST_STORAGE=s3: one S3-compatible server for the run (test/setup/backends.ts).
    globalSetup: ['test/setup/backends.ts'],
  },
});
