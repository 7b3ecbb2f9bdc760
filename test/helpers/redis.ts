import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../src/net/free-ports.ts';

/** A redis-server of the test's own, no persistence; stopped by its pid. */
export async function startRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
  });
  child.stdout!.resume();
  const url = `redis://127.0.0.1:${port}`;
  return {
    url,
    async stop() {
      process.kill(child.pid!, 'SIGTERM');
      await exited;
    },
  };
}
