import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

const root = path.resolve(import.meta.dirname, '../..');
const RUNNER = path.join(import.meta.dirname, 's3-server-main.ts');

/** s3rver takes any credentials; these are its own dummy account's. */
export const S3RVER_CREDENTIALS = Object.freeze({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });

/** The region s3rver answers for (its continuation tokens name it). */
export const S3RVER_REGION = 'us-east-1';

export interface S3Server {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly pid: number;
  createBucket(name: string): Promise<void>;
  /** Stops the server and removes everything it stored. */
  stop(): Promise<void>;
}

/**
 * The environment that points onair (or an S3 client using the SDK's default credential chain) at
 * `bucket` on this server: S3_* settings plus AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
 */
export function s3Env(
  server: Pick<S3Server, 'endpoint'>,
  bucket: string,
  prefix?: string,
): Record<string, string> {
  return {
    S3_BUCKET: bucket,
    S3_ENDPOINT: server.endpoint,
    S3_REGION: S3RVER_REGION,
    S3_FORCE_PATH_STYLE: 'true',
    ...(prefix ? { S3_PREFIX: prefix } : {}),
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
  };
}

/**
 * Sets AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in this process for clients built with the SDK's
 * default credential chain (S3Storage); returns a function that restores the previous values.
 */
export function useS3rverCredentials(): () => void {
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
  return () => {
    for (const [name, value] of [
      ['AWS_ACCESS_KEY_ID', saved.id],
      ['AWS_SECRET_ACCESS_KEY', saved.secret],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

/**
 * s3rver 3.7.1 (the S3-compatible server that runs here) in a process of its own, on a free
 * loopback port, storing in a temporary folder: several onair processes, or a whole test run, can
 * share it. Quiet: it logs nothing.
 */
export async function startS3Server(): Promise<S3Server> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-s3rver-'));
  // s3rver's ListObjectsV2 continuation tokens are DES-encrypted: OpenSSL 3 has DES only in its
  // legacy provider, without which every listing of more than one page fails with InternalError.
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '--import', 'tsx', RUNNER], {
    cwd: root,
    env: { ...process.env, S3RVER_DIRECTORY: directory },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    fs.rmSync(directory, { recursive: true, force: true });
  };

  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`s3rver did not start within 30 s\n${stderr}`)),
        30_000,
      );
      child.once('message', (message: { port: number }) => {
        clearTimeout(timer);
        resolve(message.port);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited (${code ?? signal}) before listening\n${stderr}`));
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  } catch (err) {
    await kill();
    throw err;
  }

  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint,
    region: S3RVER_REGION,
    forcePathStyle: true,
    credentials: { ...S3RVER_CREDENTIALS },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    endpoint,
    pid: child.pid!,
    createBucket: async (name) => {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    stop: async () => {
      client.destroy();
      await kill();
    },
  };
}
