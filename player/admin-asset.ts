/**
 * One recording in the app (`/admin/assets/<id>`): its processing state, what it was, the ladder
 * it became (every rendition with its size, rates and codecs), its poster and storyboard stills,
 * and the player. Refreshes while it is processing.
 */
import { loadRecordingPlayer } from './admin-dom.ts';
import { api, requireSession } from './admin-session.ts';
import { parseStoryboardVtt, type StoryboardTile } from './storyboard.ts';
import type { Preview } from './timeline-preview.ts';

interface Rendition {
  name: string;
  kind: 'video' | 'audio';
  width?: number;
  height?: number;
  frameRate?: number;
  codecs: string;
  peakBitrate: number;
  averageBitrate: number;
  segments: number;
}

interface Asset {
  title: string;
  status: string;
  stage: string;
  progress: number;
  error: string | null;
  durationSeconds: number | null;
  source: {
    name: string | null;
    bytes: number;
    container?: string;
    video?: { codec: string; width: number; height: number; frameRate: number } | null;
    audio?: { codec: string } | null;
  };
  renditions: Rendition[];
  playback: {
    master: string;
    player: string;
    poster: string | null;
    storyboard: string | null;
    complete: boolean;
  } | null;
}

/** The recording as last read, and its player once started. */
let latest: Asset | undefined;
let player: Preview | undefined;

const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;

function kbps(bits: number): string {
  return `${Math.round(bits / 1000).toLocaleString('en')} kbit/s`;
}

function fact(list: HTMLElement, term: string, value: string): void {
  const dt = document.createElement('dt');
  dt.textContent = term;
  const dd = document.createElement('dd');
  dd.textContent = value;
  list.append(dt, dd);
}

function render(asset: Asset): void {
  document.title = `onair · ${asset.title}`;
  $('#asset-title').textContent = asset.title;
  const facts = $('#asset-facts');
  facts.replaceChildren();
  fact(
    facts,
    'Status',
    asset.status === 'failed'
      ? `failed: ${asset.error ?? ''}`
      : `${asset.status} (${asset.stage}, ${asset.progress}%)`,
  );
  if (asset.durationSeconds) fact(facts, 'Duration', `${Math.round(asset.durationSeconds)} s`);
  const s = asset.source;
  fact(facts, 'Uploaded file', `${s.name ?? 'unnamed'}, ${(s.bytes / 1e6).toFixed(1)} MB`);
  if (s.container) fact(facts, 'Container', s.container);
  if (s.video)
    fact(facts, 'Video', `${s.video.codec} ${s.video.width}×${s.video.height} at ${s.video.frameRate} fps`);
  if (s.audio) fact(facts, 'Audio', s.audio.codec);

  latest = asset;
  const play = $<HTMLAnchorElement>('#asset-play');
  if (asset.playback) {
    play.href = asset.playback.player;
    play.hidden = false;
    const here = $<HTMLButtonElement>('#asset-play-here');
    here.textContent = asset.playback.complete ? 'Play here' : 'Play here (still encoding)';
    here.hidden = player !== undefined;
  }
  const poster = $<HTMLImageElement>('#asset-poster');
  if (asset.playback?.poster && !poster.src) {
    poster.src = asset.playback.poster;
    poster.alt = `Poster of ${asset.title}`;
    poster.hidden = player !== undefined;
  }

  const body = $<HTMLTableSectionElement>('#renditions');
  body.replaceChildren();
  for (const r of asset.renditions) {
    const row = body.insertRow();
    const cells = [
      r.name,
      r.kind === 'video' ? `${r.width}×${r.height}` : 'audio',
      r.frameRate ? `${r.frameRate} fps` : '',
      kbps(r.averageBitrate),
      kbps(r.peakBitrate),
      r.codecs,
      String(r.segments),
    ];
    // textContent, never innerHTML.
    for (const c of cells) row.insertCell().textContent = c;
  }
  $('#renditions-section').hidden = asset.renditions.length === 0;
}

/** Every storyboard still, in time order, as cropped views of its sprite sheet. */
function renderStoryboard(tiles: StoryboardTile[]): void {
  const box = $('#storyboard');
  box.replaceChildren(
    ...tiles.map((tile) => {
      const still = document.createElement('div');
      still.className = 'still';
      still.setAttribute('role', 'img');
      still.setAttribute('aria-label', `Still at ${Math.floor(tile.start)} s`);
      // CSSOM, not a style attribute: the CSP allows the one, not the other.
      still.style.width = `${tile.w}px`;
      still.style.height = `${tile.h}px`;
      still.style.background = `url("${tile.url}") -${tile.x}px -${tile.y}px`;
      return still;
    }),
  );
  $('#storyboard-section').hidden = tiles.length === 0;
}

/** Plays the recording in the page (its signed master playlist), in place of the poster. */
async function playHere(): Promise<void> {
  const master = latest?.playback?.master;
  if (!master || player) return;
  const video = $<HTMLVideoElement>('#asset-video');
  const createPreview = await loadRecordingPlayer();
  player = createPreview(video, master, (problem) => {
    $('#message').textContent = problem;
    video.hidden = true;
  });
  $('#asset-play-here').hidden = true;
  $('#asset-poster').hidden = true;
  video.hidden = false;
  await video.play().catch(() => undefined);
}

async function main(): Promise<void> {
  await requireSession();
  $('#asset-play-here').addEventListener('click', () => void playHere());
  const id = /^\/admin\/assets\/([A-Za-z0-9_]{1,40})$/.exec(location.pathname)?.[1];
  if (!id) return void ($('#message').textContent = 'No such recording.');
  let storyboardShown = false;
  for (;;) {
    const response = await api(`/api/assets/${id}`);
    if (!response.ok) {
      $('#message').textContent =
        response.status === 404 ? 'No such recording in this account.' : 'Could not load it.';
      return;
    }
    const asset = (await response.json()) as Asset;
    render(asset);
    const storyboard = asset.playback?.storyboard;
    if (storyboard && !storyboardShown) {
      storyboardShown = true;
      const vtt = await fetch(storyboard);
      if (vtt.ok) renderStoryboard(parseStoryboardVtt(await vtt.text(), storyboard));
    }
    if (asset.status === 'ready' || asset.status === 'failed') return;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

void main().catch((err: unknown) => ($('#message').textContent = String(err)));
