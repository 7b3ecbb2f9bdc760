import { parseStoryboardVtt, tileAt } from './storyboard.ts';
import Hls from 'hls.js';
import type { MessageKey } from '../src/i18n/catalogues/en.ts';
import type { Translator } from '../src/i18n/format.ts';

export interface PlayerSource {
  master: string;
  poster?: string | null;
  storyboard?: string | null;
  /** False while the asset is still encoding: start at the beginning, not the "live" edge. */
  complete: boolean;
  /** A live stream: start at the live edge, show LIVE, keep close to the edge. */
  live?: boolean;
}

/**
 * hls.js settings for live. Low-Latency HLS where the playlist has parts: hls.js reloads it by
 * blocking requests and loads parts. Catch up by playing up to 10 % faster when behind, which is
 * inaudible in speech, and jump to the edge beyond 6 target durations. The hold-back itself is set
 * once the first playlist is in (`liveTargetLatency`). Measured with `npm run bench -- live-latency`.
 */
export const LIVE_HLS_CONFIG = {
  lowLatencyMode: true,
  // Regular HLS (no parts): 1.5 segments behind instead of hls.js's 3 (the bulk of glass-to-glass
  // latency is this hold-back). Also where hls.js starts before `liveTargetLatency` applies.
  liveSyncDurationCount: 1.5,
  liveMaxLatencyDurationCount: 6,
  maxLiveSyncPlaybackRate: 1.1,
  backBufferLength: 30,
} as const;

/** After a stall hls.js holds back a second more (up to a segment); this long without one, it goes back. */
const STALL_FREE_RESET_MS = 60_000;

/** How far behind the live edge to play: the playlist's PART-HOLD-BACK with parts, else 1.5 segments. */
export function liveTargetLatency(details: { partHoldBack: number; targetduration: number }): number {
  return details.partHoldBack > 0
    ? details.partHoldBack
    : LIVE_HLS_CONFIG.liveSyncDurationCount * details.targetduration;
}

export interface Player {
  readonly video: HTMLVideoElement;
  /** The hls.js instance (undefined with the browser's own HLS). */
  readonly hls: Hls | undefined;
  /** 'hls.js' or 'native': which engine plays. */
  readonly engine: 'hls.js' | 'native';
  destroy(): void;
}

function formatTime(seconds: number): string {
  if (!Number.isFinite(seconds)) return '0:00';
  const s = Math.floor(seconds % 60);
  const m = Math.floor(seconds / 60) % 60;
  const h = Math.floor(seconds / 3600);
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(s).padStart(2, '0')}`;
}

const ICONS = {
  play: 'M8 5v14l11-7z',
  pause: 'M6 5h4v14H6zm8 0h4v14h-4z',
  volume: 'M3 9v6h4l5 5V4L7 9zm13.5 3A4.5 4.5 0 0 0 14 8v8a4.5 4.5 0 0 0 2.5-4z',
  muted:
    'M3 9v6h4l5 5V4L7 9zm18 .4L19.6 8 17 10.6 14.4 8 13 9.4l2.6 2.6-2.6 2.6 1.4 1.4 2.6-2.6 2.6 2.6 1.4-1.4-2.6-2.6z',
  fullscreen: 'M7 14H5v5h5v-2H7zm-2-4h2V7h3V5H5zm12 7h-3v2h5v-5h-2zM14 5v2h3v3h2V5z',
};

/** Inline SVG icons: no icon font or emoji font needed, crisp at any size. */
function setIcon(button: HTMLButtonElement, name: keyof typeof ICONS): void {
  button.innerHTML = `<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false"><path fill="currentColor" d="${ICONS[name]}"/></svg>`;
}

/** `url` if it is an absolute http(s) URL, else undefined: links from data never run script. */
export function webUrl(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  text = '',
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

/**
 * The viewer's player: hls.js wherever MSE exists (same quality menu and errors everywhere),
 * the browser's own HLS otherwise (iPhone). Custom controls: play/pause, seek with storyboard
 * previews, time, quality (Auto + each rung), volume, fullscreen; keyboard and screen-reader
 * labels. Returns destroy().
 */
/**
 * Live latency that stays flat over hours: the hold-back is set from the first playlist; a player
 * further behind than hls.js's catch-up range (one target duration past the hold-back: it takes
 * that for DVR viewing and never speeds up) jumps to the live point, unless the viewer chose to be
 * behind (seeked back or paused); and the extra second hls.js adds after each stall is given back
 * after a minute without one. Measured: with 2 s segments hls.js started 4-6 s behind a 1 s target
 * and stayed there.
 */
function keepLatencyFlat(hls: Hls, video: HTMLVideoElement, viewerIsBehind: () => boolean): void {
  let base: number | undefined;
  let lastStallAt = 0;
  hls.on(Hls.Events.LEVEL_LOADED, (_e, data) => {
    if (base !== undefined) return;
    base = liveTargetLatency(data.details);
    hls.targetLatency = base;
  });
  hls.on(Hls.Events.ERROR, (_e, data) => {
    if (data.details === Hls.ErrorDetails.BUFFER_STALLED_ERROR) lastStallAt = Date.now();
  });
  let lastResetAt = 0;
  const timer = setInterval(() => {
    if (base === undefined) return;
    const target = hls.targetLatency;
    const latency = hls.latency;
    const details = hls.levels[Math.max(0, hls.currentLevel)]?.details;
    const sync = hls.liveSyncPosition;
    if (
      target !== null &&
      details &&
      sync !== null &&
      latency - target > details.targetduration &&
      !video.paused &&
      !viewerIsBehind() &&
      sync > video.currentTime
    ) {
      video.currentTime = sync;
    }
    if (Date.now() - lastStallAt < STALL_FREE_RESET_MS || Date.now() - lastResetAt < 10_000) return;
    lastResetAt = Date.now();
    if ((target ?? base) > base + 0.05) hls.targetLatency = base;
  }, 1000);
  hls.on(Hls.Events.DESTROYING, () => clearInterval(timer));
}

export function createPlayer(
  root: HTMLElement,
  source: PlayerSource,
  onError: (message: string) => void,
  /** The page's words (labels, time, errors), in the viewer's language. */
  { t }: Translator<MessageKey>,
): Player {
  root.classList.add('onair-player');
  const video = el('video', { playsinline: '', preload: 'metadata', 'aria-label': t('player.video') });
  if (source.poster) video.poster = source.poster;
  const controls = el('div', { class: 'controls', role: 'group', 'aria-label': t('player.controls') });
  const play = el('button', { type: 'button', class: 'play', 'aria-label': t('player.play') });
  setIcon(play, 'play');
  const seek = el('input', {
    type: 'range',
    min: '0',
    max: '0',
    step: '0.1',
    value: '0',
    'aria-label': t('player.seek'),
  });
  const time = el('span', { class: 'time', 'aria-live': 'off' }, '0:00 / 0:00');
  const mute = el('button', { type: 'button', class: 'mute', 'aria-label': t('player.mute') });
  setIcon(mute, 'volume');
  const volume = el('input', {
    type: 'range',
    min: '0',
    max: '1',
    step: '0.05',
    value: '1',
    class: 'volume',
    'aria-label': t('player.volume'),
  });
  const quality = el('select', { 'aria-label': t('player.quality') });
  quality.append(el('option', { value: '-1' }, t('player.auto')));
  const fullscreen = el('button', {
    type: 'button',
    class: 'fullscreen',
    'aria-label': t('player.fullscreen'),
  });
  setIcon(fullscreen, 'fullscreen');
  const liveBadge = el(
    'button',
    { type: 'button', class: 'live-badge', 'aria-label': t('player.goLive') },
    t('player.liveBadge'),
  );
  liveBadge.hidden = !source.live;
  const preview = el('div', { class: 'preview', 'aria-hidden': 'true' });
  const seekWrap = el('div', { class: 'seek' });
  seekWrap.append(seek, preview);
  controls.append(play, liveBadge, seekWrap, time, mute, volume, quality, fullscreen);
  root.replaceChildren(video, controls);

  let hls: Hls | undefined;
  let engine: Player['engine'] = 'native';
  /** The viewer moved back in the live window (or paused): the player leaves them there. */
  let viewerIsBehind = false;
  video.addEventListener('pause', () => (viewerIsBehind = true));
  if (Hls.isSupported()) {
    engine = 'hls.js';
    hls = new Hls({
      startPosition: source.complete || source.live ? -1 : 0,
      capLevelToPlayerSize: true,
      ...(source.live ? LIVE_HLS_CONFIG : {}),
    });
    hls.on(Hls.Events.MANIFEST_PARSED, (_e, data) => {
      // hls.js numbers levels from the lowest bit rate; list the highest first.
      data.levels
        .map((level, index) => ({ level, index }))
        .reverse()
        .forEach(({ level, index }) =>
          quality.append(
            el(
              'option',
              { value: String(index) },
              level.height
                ? `${level.height}p`
                : t('player.bitrate', { kbps: String(Math.round(level.bitrate / 1000)) }),
            ),
          ),
        );
    });
    hls.on(Hls.Events.ERROR, (_e, data) => {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR && data.response?.code === 403) {
        onError(t('player.expired'));
      } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        hls?.recoverMediaError();
      } else onError(t('player.failed'));
    });
    if (source.live) keepLatencyFlat(hls, video, () => viewerIsBehind);
    hls.loadSource(source.master);
    hls.attachMedia(video);
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = source.master;
    quality.disabled = true;
  } else {
    onError(t('player.unsupported'));
  }

  if (source.live) {
    // Live starts by itself (the viewer has been waiting for it). Where the browser blocks sound
    // without a gesture, start muted: the mute button shows it, one click brings the sound.
    const start = () =>
      video.play().catch(() => {
        video.muted = true;
        return video.play().catch(() => undefined);
      });
    video.addEventListener('canplay', () => void start(), { once: true });
  }

  quality.addEventListener('change', () => {
    // currentLevel switches now (flushing the buffer), so the choice is visible at once.
    if (hls) hls.currentLevel = Number(quality.value);
  });
  const toggle = () => void (video.paused ? video.play() : video.pause());
  play.addEventListener('click', toggle);
  video.addEventListener('click', toggle);
  const syncPlay = () => {
    setIcon(play, video.paused ? 'play' : 'pause');
    play.setAttribute('aria-label', t(video.paused ? 'player.play' : 'player.pause'));
  };
  video.addEventListener('play', syncPlay);
  video.addEventListener('pause', syncPlay);
  video.addEventListener('durationchange', () => (seek.max = String(video.duration || 0)));
  /** Live: the seekable window (DVR), and whether we are at its edge. */
  const liveEdge = () => hls?.liveSyncPosition ?? (video.seekable.length ? video.seekable.end(0) : 0);
  video.addEventListener('timeupdate', () => {
    if (source.live && Number.isFinite(video.duration) === false) {
      const start = video.seekable.length ? video.seekable.start(0) : 0;
      const end = video.seekable.length ? video.seekable.end(0) : 0;
      seek.min = String(start);
      seek.max = String(end);
      const behind = Math.max(0, liveEdge() - video.currentTime);
      liveBadge.classList.toggle('behind', behind > 6);
      time.textContent = behind > 6 ? `-${formatTime(behind)}` : t('player.live');
    } else {
      time.textContent = `${formatTime(video.currentTime)} / ${formatTime(video.duration)}`;
    }
    if (document.activeElement !== seek) seek.value = String(video.currentTime);
    seek.setAttribute(
      'aria-valuetext',
      t('player.position', { current: formatTime(video.currentTime), total: formatTime(video.duration) }),
    );
  });
  liveBadge.addEventListener('click', () => {
    viewerIsBehind = false;
    video.currentTime = liveEdge();
    void video.play();
  });
  seek.addEventListener('input', () => {
    viewerIsBehind = true;
    video.currentTime = Number(seek.value);
  });
  volume.addEventListener('input', () => {
    video.volume = Number(volume.value);
    video.muted = video.volume === 0;
  });
  video.addEventListener('volumechange', () => {
    setIcon(mute, video.muted || video.volume === 0 ? 'muted' : 'volume');
    mute.setAttribute('aria-label', t(video.muted ? 'player.unmute' : 'player.mute'));
    volume.value = String(video.muted ? 0 : video.volume);
  });
  mute.addEventListener('click', () => (video.muted = !video.muted));
  const goFullscreen = () =>
    void (document.fullscreenElement ? document.exitFullscreen() : root.requestFullscreen());
  fullscreen.addEventListener('click', goFullscreen);

  root.tabIndex = 0;
  root.addEventListener('keydown', (e) => {
    if (e.target instanceof HTMLSelectElement) return;
    const actions: Record<string, () => void> = {
      ' ': toggle,
      k: toggle,
      ArrowLeft: () => {
        viewerIsBehind = true;
        video.currentTime = Math.max(0, video.currentTime - 5);
      },
      ArrowRight: () => (video.currentTime = Math.min(video.duration || Infinity, video.currentTime + 5)),
      ArrowUp: () => (video.volume = Math.min(1, video.volume + 0.1)),
      ArrowDown: () => (video.volume = Math.max(0, video.volume - 0.1)),
      m: () => (video.muted = !video.muted),
      f: goFullscreen,
    };
    const action = actions[e.key];
    if (action && !(e.target instanceof HTMLInputElement && e.key.startsWith('Arrow'))) {
      e.preventDefault();
      action();
    }
  });

  if (source.storyboard) {
    const storyboard = source.storyboard;
    fetch(storyboard)
      .then(async (r) => parseStoryboardVtt(await r.text(), storyboard))
      .then(
        (cues) => {
          seekWrap.addEventListener('mousemove', (e) => {
            const rect = seek.getBoundingClientRect();
            const t = ((e.clientX - rect.left) / rect.width) * (video.duration || 0);
            const cue = tileAt(cues, t);
            if (!cue) return;
            preview.style.cssText = `display:block;width:${cue.w}px;height:${cue.h}px;background:url("${cue.url}") -${cue.x}px -${cue.y}px;left:${Math.max(0, Math.min(rect.width - cue.w, e.clientX - rect.left - cue.w / 2))}px`;
            preview.textContent = formatTime(t);
          });
          seekWrap.addEventListener('mouseleave', () => (preview.style.display = 'none'));
        },
        () => undefined,
      );
  }

  return {
    video,
    hls,
    engine,
    destroy() {
      hls?.destroy();
      root.replaceChildren();
    },
  };
}
