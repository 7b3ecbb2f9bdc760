import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startServer, type RunningServer } from '../../src/main.ts';
import { OnairClient } from '../../src/cli/api-client.ts';

export interface TestServer extends RunningServer {
  readonly dataDir: string;
  readonly apiKey: string;
  readonly client: OnairClient;
}

/**
 * A real onair: embedded redis-server, SQLite file, a forked worker process, on a free port,
 * with a short job lock so a killed worker's job is taken over quickly.
 */
/** The environment of a test onair: free ports on loopback, fast encodes, its own Redis. */
export function testEnv(dataDir: string, env: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PORT: '0',
    RTMP_PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    X264_PRESET: 'ultrafast',
    JOB_LOCK_MS: '3000',
    LOG_LEVEL: 'warn',
    REDIS_URL: '',
    ...env,
  };
}

export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-test-'));
  const fullEnv = testEnv(dataDir, env);
  const server = await startServer(loadConfig(fullEnv), fullEnv);
  if (!server.generatedApiKey) throw new Error('expected a generated API key on first start');
  return {
    ...server,
    close: async () => {
      await server.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
    workerPids: () => server.workerPids(),
    dataDir,
    apiKey: server.generatedApiKey,
    client: new OnairClient(server.url, server.generatedApiKey),
  };
}
