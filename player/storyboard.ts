/** Storyboard stills (the WebVTT + sprite sheets pipelines/storyboard.ts writes): the player's seek preview and the app's timeline. */

/** One storyboard still: where it sits on its sprite sheet and the media time it covers. */
export interface StoryboardTile {
  start: number;
  end: number;
  /** The sprite sheet, resolved against the VTT's own (signed) URL. */
  url: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

/** `hh:mm:ss.ttt` or `mm:ss.ttt` (WebVTT timestamps: hours are optional). */
function vttSeconds(stamp: string): number | undefined {
  const m = /^(?:(\d+):)?([0-5]\d):([0-5]\d(?:\.\d+)?)$/.exec(stamp);
  if (!m) return undefined;
  return Number(m[1] ?? 0) * 3600 + Number(m[2]) * 60 + Number(m[3]);
}

/**
 * The cues of a storyboard WebVTT file (pipelines/storyboard.ts writes them): each a time range
 * and a sprite region as a media fragment, `sheet.jpg#xywh=x,y,w,h` (`pixel:` allowed, W3C Media
 * Fragments 4.2.3). Cues without a region are skipped; the tiles come back in time order.
 */
export function parseStoryboardVtt(text: string, vttUrl: string): StoryboardTile[] {
  if (!/^(\uFEFF)?WEBVTT/.test(text)) return [];
  const tiles: StoryboardTile[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const lines = block.split(/\r?\n/).map((l) => l.trim());
    const timing = lines.findIndex((l) => l.includes('-->'));
    if (timing < 0) continue;
    const [from, to] = lines[timing]!.split('-->').map((s) => s.trim().split(/\s+/)[0] ?? '');
    const start = vttSeconds(from ?? '');
    const end = vttSeconds(to ?? '');
    const payload = lines[timing + 1] ?? '';
    const fragment = /^(.+)#xywh=(?:pixel:)?(\d+),(\d+),(\d+),(\d+)$/.exec(payload);
    if (start === undefined || end === undefined || !fragment) continue;
    let url: string;
    try {
      url = new URL(fragment[1]!, vttUrl).href;
    } catch {
      continue;
    }
    tiles.push({
      start,
      end,
      url,
      x: Number(fragment[2]),
      y: Number(fragment[3]),
      w: Number(fragment[4]),
      h: Number(fragment[5]),
    });
  }
  return tiles.sort((a, b) => a.start - b.start);
}

/** The still showing at `seconds`: the cue that covers it, else the last one before it. */
export function tileAt(tiles: readonly StoryboardTile[], seconds: number): StoryboardTile | undefined {
  let found: StoryboardTile | undefined;
  for (const tile of tiles) {
    if (tile.start > seconds) break;
    found = tile;
    if (seconds < tile.end) break;
  }
  return found ?? tiles[0];
}
