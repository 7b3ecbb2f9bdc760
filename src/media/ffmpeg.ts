import { spawn, type ChildProcessByStdio } from 'node:child_process';
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import ffmpeg from 'fluent-ffmpeg';
import { ProgressReader, type ProgressBlock } from '../../pipelines/ffmpeg-progress.ts';
import type { ProbeReport } from '../../pipelines/source-facts.ts';

/**
 * The only module that runs ffmpeg and ffprobe. Probing goes through fluent-ffmpeg; encodes are
 * spawned with an explicit argv because fluent-ffmpeg re-splits option strings that contain a
 * space (it breaks `-var_stream_map`) and gives no hold on the child process.
 *
 * Whoever starts an ffmpeg owns it: it dies with its worker (`spawnFfmpeg`'s parent-death signal)
 * and is stopped through the job's abort signal. No pid is ever written down for another process
 * (or machine) to find and kill later.
 */

export class MediaToolError extends Error {
  constructor(
    message: string,
    readonly stderrTail: string,
  ) {
    super(message);
  }
}

/** The last meaningful ffmpeg/ffprobe stderr line, with the file's path replaced. */
export function lastErrorLine(stderr: string, file?: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('ffprobe version') && !/exited with code/.test(l));
  const line = lines.at(-1) ?? 'unknown error';
  return file ? line.split(file).join('file') : line;
}

export function probeMedia(file: string, ffprobePath: string, options: string[] = []): Promise<ProbeReport> {
  return new Promise((resolve, reject) => {
    ffmpeg(file)
      .setFfprobePath(ffprobePath)
      .ffprobe(options, (err: Error | null, data: ffmpeg.FfprobeData) => {
        if (err) reject(new MediaToolError(lastErrorLine(err.message, file), err.message.slice(-2000)));
        else resolve(data);
      });
  });
}

export interface RunOptions {
  onProgress?: (block: ProgressBlock) => void;
  /** Aborting it kills ffmpeg (SIGKILL); the run then rejects. */
  signal?: AbortSignal;
}

/**
 * ffmpeg dies with the process that started it: util-linux's setpriv (always on Debian) sets
 * PR_SET_PDEATHSIG and then execs ffmpeg under the same pid. Without it a SIGKILLed worker's ffmpeg
 * kept encoding to the end, ignoring its closed progress pipe, beside the job's next attempt.
 */
const SETPRIV = '/usr/bin/setpriv';
const dieWithParent = fs.existsSync(SETPRIV);

/** Starts ffmpeg so that it dies with this process (see above); stdin ignored, stdout and stderr piped. */
export function spawnFfmpeg(ffmpegPath: string, args: readonly string[], extraPipes = 0) {
  // Extra pipes are fds 3, 4, … of ffmpeg (`pipe:3`): the live ffmpeg writes one rendition to each.
  const stdio: ('ignore' | 'pipe')[] = ['ignore', 'pipe', 'pipe', ...Array<'pipe'>(extraPipes).fill('pipe')];
  const child = dieWithParent
    ? spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', ffmpegPath, ...args], { stdio })
    : spawn(ffmpegPath, args, { stdio });
  // stdin ignored, stdout and stderr piped (the extra pipes are in `child.stdio`).
  const typed = child as unknown as ChildProcessByStdio<null, Readable, Readable>;
  running++;
  child.once('close', () => running--);
  return typed;
}

/** ffmpeg processes of this process still running (for the `onair_ffmpeg_processes` gauge). */
let running = 0;
export function runningFfmpegs(): number {
  return running;
}

/** A segment sink session's URL (`src/media/hls-sink.ts`): an internal detail, not for error messages. */
const SINK_URL = /https?:\/\/127\.0\.0\.1:\d+\/[0-9a-f]{32}\//g;

export function runFfmpeg(ffmpegPath: string, args: readonly string[], opts: RunOptions = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new Error('aborted before start'));
    const child = spawnFfmpeg(ffmpegPath, args);
    let stderr = '';
    const reader = new ProgressReader();
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      for (const block of reader.push(chunk)) opts.onProgress?.(block);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-8000);
    });
    const onAbort = () => child.kill('SIGKILL');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) => reject(err));
    child.once('close', (code, signal) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (code === 0) resolve();
      else if (opts.signal?.aborted) reject(new Error('ffmpeg stopped: job aborted'));
      else
        reject(
          new MediaToolError(
            `ffmpeg failed (${signal ?? `exit ${code}`}): ${lastErrorLine(stderr, args[args.indexOf('-i') + 1]).replace(SINK_URL, '')}`,
            stderr,
          ),
        );
    });
  });
}
