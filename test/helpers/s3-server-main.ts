/**
 * Runs s3rver (an S3-compatible server on local files) in its own process, for tests: started by
 * `startS3Server` in ./s3.ts with `node --import tsx`, it listens on a free loopback port, stores
 * under S3RVER_DIRECTORY, reports `{ port }` over IPC, and exits when told to or when its parent
 * goes away (the IPC channel closes).
 */
import { createRequire } from 'node:module';

interface S3rverOptions {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
}
interface S3rverServer {
  run(): Promise<{ address: string; port: number }>;
}
// s3rver is CommonJS without type declarations.
const S3rver = createRequire(import.meta.url)('s3rver') as new (options: S3rverOptions) => S3rverServer;

const directory = process.env.S3RVER_DIRECTORY;
if (!directory || !process.send) {
  console.error('s3-server-main: run me through startS3Server (needs S3RVER_DIRECTORY and an IPC channel)');
  process.exit(2);
}

const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
const { port } = await server.run();
process.send({ port });
// Nothing to flush: objects are files already written, and the parent removes the folder.
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
