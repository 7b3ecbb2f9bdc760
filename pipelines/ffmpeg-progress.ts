/** Reads ffmpeg's `-progress` key=value blocks. */
export interface ProgressBlock {
  readonly outTimeSeconds?: number;
  readonly speed?: number;
  readonly fps?: number;
  readonly droppedFrames?: number;
  readonly ended: boolean;
}

export function parseProgressBlock(lines: readonly string[]): ProgressBlock {
  const values = new Map<string, string>();
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq > 0) values.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const outUs = Number(values.get('out_time_us') ?? values.get('out_time_ms'));
  const speed = Number.parseFloat(values.get('speed') ?? '');
  const fps = Number.parseFloat(values.get('fps') ?? '');
  const dropped = Number.parseInt(values.get('drop_frames') ?? '', 10);
  return {
    ...(Number.isFinite(outUs) && outUs >= 0 ? { outTimeSeconds: outUs / 1e6 } : {}),
    ...(Number.isFinite(speed) ? { speed } : {}),
    ...(Number.isFinite(fps) ? { fps } : {}),
    ...(Number.isFinite(dropped) ? { droppedFrames: dropped } : {}),
    ended: values.get('progress') === 'end',
  };
}

/** Splits a chunked stdout stream into progress blocks (each ends with a `progress=` line). */
export class ProgressReader {
  #buffer = '';
  #lines: string[] = [];

  push(chunk: string): ProgressBlock[] {
    this.#buffer += chunk;
    const parts = this.#buffer.split('\n');
    this.#buffer = parts.pop() ?? '';
    const blocks: ProgressBlock[] = [];
    for (const line of parts) {
      this.#lines.push(line);
      if (line.startsWith('progress=')) {
        blocks.push(parseProgressBlock(this.#lines));
        this.#lines = [];
      }
    }
    return blocks;
  }
}
