import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.ts';
import { playbackKey } from '../origin/tokens.ts';
import { loadSecret, operatorKey } from '../services/secret.ts';
import { addApiKey, createAccount, generateApiKey } from '../db/accounts.ts';
import { migrateToLatest, openDatabase } from '../db/database.ts';
import { ApiError, OnairClient } from './api-client.ts';
import { ProgressBar } from './progress-bar.ts';

const USAGE = `Usage:
  onair upload FILE --title TITLE [--wait]   upload a recording (prints its playback URL)
  onair assets                               list your assets
  onair accounts create NAME                 create an account on this machine's database and print its API key
  onair edge-key                             print the key an nginx edge checks playback URLs with
  onair operator-key                         print the key for /metrics and the queue dashboard

Options: --url URL (default $ONAIR_URL or http://localhost:8080), --key KEY (default $ONAIR_API_KEY)`;

function client(values: { url?: string | undefined; key?: string | undefined }): OnairClient {
  const key = values.key ?? process.env.ONAIR_API_KEY;
  if (!key)
    throw new Error('No API key: pass --key or set ONAIR_API_KEY (onair printed one at first start).');
  return new OnairClient(
    values.url ?? process.env.ONAIR_URL ?? `http://localhost:${process.env.PORT ?? 8080}`,
    key,
  );
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

async function upload(
  file: string | undefined,
  values: { title?: string; wait?: boolean; url?: string; key?: string },
) {
  if (!file) throw new Error('upload needs a FILE');
  if (!fs.existsSync(file)) throw new Error(`No such file: ${file}`);
  if (!values.title) throw new Error('upload needs --title');
  const api = client(values);
  const started = Date.now();
  const uploadBar = new ProgressBar('uploading');
  // Resumable (tus): a dropped connection is retried from what the server has, with backoff.
  const asset = await api.uploadResumable(
    file,
    values.title,
    (sent, total) => {
      const rate = sent / Math.max(0.001, (Date.now() - started) / 1000);
      uploadBar.update((sent / total) * 100, `${mb(sent)} / ${mb(total)}  ${mb(rate)}/s`);
    },
    {
      onRetry: (reason, delayMs) =>
        process.stderr.write(
          `\nupload interrupted (${reason}); resuming in ${(delayMs / 1000).toFixed(1)} s\n`,
        ),
    },
  );
  uploadBar.done();
  process.stdout.write(`asset ${asset.id} uploaded\n`);
  if (!values.wait) {
    process.stdout.write(`status: ${asset.status} (follow it with GET /api/assets/${asset.id})\n`);
    return;
  }
  const bar = new ProgressBar('processing');
  let shownPreview = false;
  const final = await api.waitForAsset(asset.id, (a) => {
    bar.update(a.progress, a.stage);
    if (!shownPreview && a.playback && a.status === 'processing') {
      shownPreview = true;
      process.stderr.write(`\nplayable already (still encoding): ${a.playback.player}\n`);
    }
  });
  if (final.status === 'failed') {
    process.stderr.write('\n');
    throw new Error(`Processing failed: ${final.error ?? 'unknown reason'}`);
  }
  bar.done('done');
  process.stdout.write(`ready: ${final.renditions.map((r) => r.name).join(', ')}\n`);
  process.stdout.write(`player: ${final.playback?.player}\n`);
  process.stdout.write(`hls:    ${final.playback?.master}\n`);
}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      title: { type: 'string' },
      wait: { type: 'boolean' },
      url: { type: 'string' },
      key: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  switch (command) {
    case 'upload':
      return upload(rest[0], values);
    case 'assets': {
      const { assets } = await client(values).listAssets();
      for (const a of assets) {
        process.stdout.write(
          `${a.id}  ${a.status.padEnd(10)} ${String(a.progress).padStart(3)}%  ${a.title}${a.playback ? `  ${a.playback.player}` : ''}\n`,
        );
      }
      if (assets.length === 0) process.stdout.write('no assets yet\n');
      return;
    }
    case 'accounts': {
      if (rest[0] !== 'create' || !rest[1]) throw new Error('usage: onair accounts create NAME');
      const db = openDatabase(loadConfig());
      await migrateToLatest(db);
      const account = await createAccount(db, rest[1]);
      const key = generateApiKey();
      await addApiKey(db, account.id, key, 'cli');
      await db.destroy();
      process.stdout.write(`account ${account.id}\napi key (shown once): ${key}\n`);
      return;
    }
    case 'edge-key': {
      // What an nginx edge (infra/nginx/onair-edge.conf) checks playback URLs with; never the
      // server secret itself, which also signs cookies and personal links.
      const config = loadConfig();
      process.stdout.write(`${playbackKey(loadSecret(config.secret, config.dataDir))}\n`);
      return;
    }
    case 'operator-key': {
      // For Prometheus (bearer) and /admin/queues (the Basic password): never an account's key.
      const config = loadConfig();
      process.stdout.write(`${operatorKey(loadSecret(config.secret, config.dataDir))}\n`);
      return;
    }
    default:
      throw new Error(`Unknown command "${command}".\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const message =
    err instanceof ApiError
      ? `${err.message} (HTTP ${err.status})`
      : err instanceof Error
        ? err.message
        : String(err);
  process.stderr.write(`onair: ${message}\n`);
  process.exitCode = 1;
});
