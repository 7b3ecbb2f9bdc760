/** Scrubbing storyboard: stills laid out on sprite sheets, indexed by a WebVTT file. */

export interface StoryboardLayout {
  readonly tileWidth: number;
  readonly tileHeight: number;
  readonly columns: number;
  readonly rows: number;
}

export interface TilePlacement {
  readonly index: number;
  readonly sheet: number;
  readonly x: number;
  readonly y: number;
}

/** One still every N seconds: dense for short talks, at most ~200 for long ones, 2-10 s apart. */
export function stillsInterval(durationSeconds: number): number {
  return Math.min(10, Math.max(2, Math.ceil(durationSeconds / 200)));
}

export function placeTiles(count: number, layout: StoryboardLayout): TilePlacement[] {
  const perSheet = layout.columns * layout.rows;
  return Array.from({ length: count }, (_, index) => {
    const inSheet = index % perSheet;
    return {
      index,
      sheet: Math.floor(index / perSheet),
      x: (inSheet % layout.columns) * layout.tileWidth,
      y: Math.floor(inSheet / layout.columns) * layout.tileHeight,
    };
  });
}

function vttTime(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(ms % 1000, 3)}`;
}

/** WebVTT cues pointing at sprite regions with media fragments (`sheet.jpg#xywh=x,y,w,h`). */
export function writeStoryboardVtt(
  tiles: readonly TilePlacement[],
  layout: StoryboardLayout,
  everySeconds: number,
  durationSeconds: number,
  sheetName: (sheet: number) => string,
): string {
  const cues = tiles.map((t) => {
    const start = t.index * everySeconds;
    const end = Math.min(durationSeconds, start + everySeconds);
    return `${vttTime(start)} --> ${vttTime(end)}\n${sheetName(t.sheet)}#xywh=${t.x},${t.y},${layout.tileWidth},${layout.tileHeight}`;
  });
  return `WEBVTT\n\n${cues.join('\n\n')}\n`;
}

/** Fits a frame into a box, keeping aspect and even dimensions (encoders want even sizes). */
export function fitInside(width: number, height: number, box: number): { width: number; height: number } {
  const scale = Math.min(box / width, box / height, 1);
  const even = (n: number) => Math.max(2, 2 * Math.round(n / 2));
  return { width: even(width * scale), height: even(height * scale) };
}
