import cluster from 'node:cluster';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, type Config } from './config.ts';
import { ensureFirstAccount } from './db/accounts.ts';
import { listUnfinishedUploads } from './db/assets.ts';
import { migrateToLatest, openDatabase } from './db/database.ts';
import { ingestUrls } from './http/ingest-urls.ts';
import { closeServer, createHttpServer, listen } from './http/server.ts';
import { finishStrandedUploads } from './services/resumable-uploads.ts';
import { removeAbandonedUploads } from './http/assets-routes.ts';
import { createLogger } from './log.ts';
import { JobQueues } from './queue/catalogue.ts';
import { Metrics, MetricsPublisher } from './services/metrics.ts';
import { connectRedis, RedisOutageLog } from './queue/redis.ts';
import { startEmbeddedRedis, type EmbeddedRedis } from './services/embedded-redis.ts';
import { freePort, freeUdpPort } from './net/free-ports.ts';
import { WorkerSupervisor } from './services/worker-supervisor.ts';
import { ensurePrivateDir } from './storage/local-storage.ts';
import { openStorage } from './storage/open-storage.ts';
import { loadSecret, sharesDatabase } from './services/secret.ts';
import { encryptLegacyWebhookSecrets } from './services/webhooks.ts';

export interface RunningServer {
  readonly url: string;
  /** Where presenters push (undefined with INGEST=off). */
  readonly rtmpUrl: string | undefined;
  /** May carry a password: for clients, never for logs. */
  readonly redisUrl: string;
  /** Set on first start when no ONAIR_API_KEY was given. */
  readonly generatedApiKey: string | undefined;
  workerPids(): number[];
  /** The embedded redis-server's pid (undefined with REDIS_URL, or while it is being restarted). */
  redisPid(): number | undefined;
  close(): Promise<void>;
}

/**
 * HTTP_PROCESSES > 1: that many `src/http-worker.ts` processes serve HTTP on one shared port (the
 * cluster module: Node 20 has no `reusePort`), and this process only supervises. Returns the port.
 */
async function startHttpCluster(
  config: Config,
  env: NodeJS.ProcessEnv,
  cleanups: (() => Promise<void>)[],
): Promise<number> {
  cluster.setupPrimary({
    exec: path.resolve(import.meta.dirname, 'http-worker.ts'),
    execArgv: ['--import', 'tsx'],
  });
  let stopping = false;
  const fork = () => {
    const worker = cluster.fork(env);
    worker.once('exit', () => {
      if (!stopping) setTimeout(fork, 500).unref();
    });
    return worker;
  };
  const ports = Array.from(
    { length: config.httpProcesses },
    () =>
      new Promise<number>((resolve, reject) => {
        const worker = fork();
        worker.once('listening', (address) => resolve(address.port));
        worker.once('exit', (code) =>
          reject(new Error(`http process exited with code ${code} during start-up`)),
        );
      }),
  );
  cleanups.push(async () => {
    stopping = true;
    await Promise.all(
      Object.values(cluster.workers ?? {}).map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (!worker || worker.isDead()) return resolve();
            worker.once('exit', () => resolve());
            worker.process.kill('SIGTERM');
          }),
      ),
    );
  });
  const [port] = await Promise.all(ports);
  return port!;
}

/** The ingest's ports, with each 0 replaced by a free one (UDP for SRT: a free TCP port is checked for UDP). */
async function withIngestPorts(config: Config): Promise<Config> {
  return {
    ...config,
    rtmpPort: config.rtmpPort || (await freePort()),
    srt: config.srt && { ...config.srt, port: config.srt.port || (await freeUdpPort()) },
    whip: config.whip && { ...config.whip, port: config.whip.port || (await freePort()) },
  };
}

/**
 * The all-in-one server: HTTP API and origin, plus worker processes, plus (when REDIS_URL is
 * unset) a private redis-server. Everything it starts, it stops. Worker processes get `env` (the
 * environment `config` was parsed from) so they read the same settings.
 */
export async function startServer(
  givenConfig: Config,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningServer> {
  // Port 0 (tests) picks a free port here, so the API can show the real ones.
  const config: Config = givenConfig.ingest ? await withIngestPorts(givenConfig) : givenConfig;
  const log = createLogger(config.logLevel, { role: 'server' });
  let embedded: EmbeddedRedis | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  try {
    ensurePrivateDir(config.dataDir);
    if (!config.redisUrl) {
      embedded = await startEmbeddedRedis({
        dir: path.join(config.dataDir, 'redis'),
        binary: config.redisServerPath,
        log,
      });
      cleanups.push(() => embedded!.stop());
      // Its URL carries the password.
      log.info('embedded redis started', { port: embedded.port });
    }
    const redisUrl = config.redisUrl ?? embedded!.url;

    const db = openDatabase(config);
    cleanups.push(() => db.destroy());
    await migrateToLatest(db);
    const { generatedKey } = await ensureFirstAccount(db, config.apiKey);

    const storage = await openStorage(config);
    // Before the server takes uploads: what a crash cut short goes (a half file, a file without a row).
    await removeAbandonedUploads(db, storage, log);
    const outages = new RedisOutageLog(log);
    const redis = connectRedis(redisUrl, outages);
    cleanups.push(() => Promise.resolve(redis.disconnect()));
    const queues = new JobQueues(redis, outages.onError);
    cleanups.push(() => queues.close());
    // Complete uploads whose last request (or this process's last run) ended before making an asset.
    await finishStrandedUploads({ db, storage, queues, log });

    await queues.schedule('retention-sweep', {}, 3600_000);
    const secret = loadSecret(config.secret, config.dataDir, sharesDatabase(config));
    // Webhook signing secrets are kept encrypted; rows from before that are sealed now.
    await encryptLegacyWebhookSecrets(db, secret);

    // Uploads accepted while the queue was unreachable, or before a crash, get their job now.
    // (Live recordings belong to their live job, not the transcoder.)
    for (const { id } of await listUnfinishedUploads(db))
      await queues.add('transcode-vod', { assetId: id }, id);

    const childEnv = {
      ...env,
      REDIS_URL: redisUrl,
      DATA_DIR: config.dataDir,
      ONAIR_SECRET: secret,
      RTMP_PORT: String(config.rtmpPort),
      SRT_PORT: config.srt ? String(config.srt.port) : 'off',
      WHIP_PORT: config.whip ? String(config.whip.port) : 'off',
    };
    if (config.ingest) {
      // Its own process: node-media-server exits the process when it cannot listen.
      const ingest = new WorkerSupervisor(
        1,
        childEnv,
        log,
        path.resolve(import.meta.dirname, 'live/ingest-main.ts'),
        'ingest',
      );
      const ready = ingest.waitForMessage<{ port: number }>('ingest-ready', 15_000);
      ingest.start();
      cleanups.push(() => ingest.stop());
      // Its own report, not an open port: another program on RTMP_PORT must not pass for it.
      await ready.catch(() => {
        throw new Error(
          `the RTMP ingest did not start: is port ${config.rtmpPort} in use? Set RTMP_PORT, or INGEST=off to run without live ingest.`,
        );
      });
      log.info('rtmp ingest up', { port: config.rtmpPort });
    }

    let url: string;
    if (config.httpProcesses > 1) {
      const port = await startHttpCluster(config, childEnv, cleanups);
      url = `http://127.0.0.1:${port}`;
    } else {
      const metrics = new Metrics('api');
      const server = await createHttpServer({ config, db, storage, redis, queues, secret, log, metrics });
      const port = await listen(server, config.port, config.host);
      const publisher = new MetricsPublisher(metrics, redis, log);
      cleanups.push(() => closeServer(server));
      cleanups.push(() => publisher.stop());
      url = `http://127.0.0.1:${port}`;
    }

    const supervisor = new WorkerSupervisor(config.workers, childEnv, log);
    supervisor.start();
    cleanups.push(() => supervisor.stop());
    log.info('onair listening', { url, workers: config.workers });

    let closing: Promise<void> | undefined;
    return {
      url,
      rtmpUrl: config.ingest ? `rtmp://127.0.0.1:${config.rtmpPort}/live` : undefined,
      redisUrl,
      generatedApiKey: generatedKey,
      workerPids: () => supervisor.pids(),
      redisPid: () => embedded?.pid(),
      close() {
        closing ??= (async () => {
          // Reverse order: workers, HTTP, queues, database, then redis.
          for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
        })();
        return closing;
      },
    };
  } catch (err) {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    throw err;
  }
}

/**
 * Runs a server until SIGTERM/SIGINT: `npm start` (every role, one machine) and `npm run api`
 * (the API and origin alone; workers and ingest run elsewhere) both come here.
 */
export async function runServer(config: Config): Promise<void> {
  // What this process and its children create under DATA_DIR is theirs alone (0600 / 0700).
  process.umask(0o077);
  const server = await startServer(config);
  if (server.generatedApiKey) {
    if (process.stdout.isTTY) {
      process.stdout.write(
        `\nFirst start: your API key is\n\n  ${server.generatedApiKey}\n\nIt is shown only this once (only its hash is stored). Open /admin and give it once to make your owner sign-in; export it as ONAIR_API_KEY for the CLI.\n\n`,
      );
    } else {
      // Not a terminal (systemd, a log collector): the key must not land in a log for good.
      const file = path.join(config.dataDir, 'first-api-key');
      fs.writeFileSync(file, `${server.generatedApiKey}\n`, { mode: 0o600 });
      process.stdout.write(
        `\nFirst start: your API key is in ${file} (readable only by this user; only its hash is stored). Read it, give it once at /admin to make your owner sign-in, export it as ONAIR_API_KEY for the CLI, then delete the file.\n\n`,
      );
    }
  }
  process.stdout.write(`onair is up at ${config.publicUrl ?? server.url}\n`);
  if (server.rtmpUrl) {
    process.stdout.write(`presenters stream to ${config.rtmpPublicUrl ?? server.rtmpUrl} (RTMP)\n`);
    const urls = ingestUrls(config, () => config.publicUrl ?? server.url);
    if (urls.srt()) process.stdout.write(`  or ${urls.srt()}?streamid=<stream key> (SRT)\n`);
    if (urls.whip()) process.stdout.write(`  or from the browser: ${urls.whip()} (WHIP)\n`);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: shutting down\n`);
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runServer(loadConfig()).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
