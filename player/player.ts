import Hls from 'hls.js';

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
 * hls.js settings for live: hold back 1.5 segments instead of 3 (the bulk of glass-to-glass
 * latency is the player's hold-back), and catch up by playing up to 10 % faster when behind,
 * which is inaudible in speech. Measured with `npm run bench -- live-latency`.
 */
export const LIVE_HLS_CONFIG = {
  liveSyncDurationCount: 1.5,
  liveMaxLatencyDurationCount: 6,
  maxLiveSyncPlaybackRate: 1.1,
  backBufferLength: 30,
} as const;

export interface Player {
  readonly video: HTMLVideoElement;
  /** The hls.js instance (undefined with the browser's own HLS). */
  readonly hls: Hls | undefined;
  /** 'hls.js' or 'native': which engine plays. */
  readonly engine: 'hls.js' | 'native';
  destroy(): void;
}

interface Cue {
  start: number;
  end: number;
  url: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

function formatTime(seconds: number): string {
  if (!Number.isFinite(seconds)) return '0:00';
  const s = Math.floor(seconds % 60);
  const m = Math.floor(seconds / 60) % 60;
  const h = Math.floor(seconds / 3600);
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(s).padStart(2, '0')}`;
}

async function loadStoryboard(url: string): Promise<Cue[]> {
  const text = await (await fetch(url)).text();
  const cues: Cue[] = [];
  const toSeconds = (t: string) => t.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
  for (const block of text.split(/\r?\n\r?\n/)) {
    const match = /([\d:.]+) --> ([\d:.]+)\r?\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)/.exec(block);
    if (!match) continue;
    cues.push({
      start: toSeconds(match[1]!),
      end: toSeconds(match[2]!),
      url: new URL(match[3]!, url).toString(),
      x: Number(match[4]),
      y: Number(match[5]),
      w: Number(match[6]),
      h: Number(match[7]),
    });
  }
  return cues;
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
export function createPlayer(
  root: HTMLElement,
  source: PlayerSource,
  onError: (message: string) => void,
): Player {
  root.classList.add('onair-player');
  const video = el('video', { playsinline: '', preload: 'metadata', 'aria-label': 'Video' });
  if (source.poster) video.poster = source.poster;
  const controls = el('div', { class: 'controls', role: 'group', 'aria-label': 'Player controls' });
  const play = el('button', { type: 'button', class: 'play', 'aria-label': 'Play' });
  setIcon(play, 'play');
  const seek = el('input', {
    type: 'range',
    min: '0',
    max: '0',
    step: '0.1',
    value: '0',
    'aria-label': 'Seek',
  });
  const time = el('span', { class: 'time', 'aria-live': 'off' }, '0:00 / 0:00');
  const mute = el('button', { type: 'button', class: 'mute', 'aria-label': 'Mute' });
  setIcon(mute, 'volume');
  const volume = el('input', {
    type: 'range',
    min: '0',
    max: '1',
    step: '0.05',
    value: '1',
    'aria-label': 'Volume',
  });
  const quality = el('select', { 'aria-label': 'Quality' });
  quality.append(el('option', { value: '-1' }, 'Auto'));
  const fullscreen = el('button', { type: 'button', class: 'fullscreen', 'aria-label': 'Full screen' });
  setIcon(fullscreen, 'fullscreen');
  const liveBadge = el('button', { type: 'button', class: 'live-badge', 'aria-label': 'Go to live' }, 'LIVE');
  liveBadge.hidden = !source.live;
  const preview = el('div', { class: 'preview', 'aria-hidden': 'true' });
  const seekWrap = el('div', { class: 'seek' });
  seekWrap.append(seek, preview);
  controls.append(play, liveBadge, seekWrap, time, mute, volume, quality, fullscreen);
  root.replaceChildren(video, controls);

  let hls: Hls | undefined;
  let engine: Player['engine'] = 'native';
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
              level.height ? `${level.height}p` : `${Math.round(level.bitrate / 1000)} kbit/s`,
            ),
          ),
        );
    });
    hls.on(Hls.Events.ERROR, (_e, data) => {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR && data.response?.code === 403) {
        onError('Your access to this video has expired. Reload the page.');
      } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        hls?.recoverMediaError();
      } else onError('Playback failed. Reload the page to try again.');
    });
    hls.loadSource(source.master);
    hls.attachMedia(video);
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = source.master;
    quality.disabled = true;
  } else {
    onError('This browser cannot play this video.');
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
    play.setAttribute('aria-label', video.paused ? 'Play' : 'Pause');
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
      time.textContent = behind > 6 ? `-${formatTime(behind)}` : 'Live';
    } else {
      time.textContent = `${formatTime(video.currentTime)} / ${formatTime(video.duration)}`;
    }
    if (document.activeElement !== seek) seek.value = String(video.currentTime);
    seek.setAttribute('aria-valuetext', `${formatTime(video.currentTime)} of ${formatTime(video.duration)}`);
  });
  liveBadge.addEventListener('click', () => {
    video.currentTime = liveEdge();
    void video.play();
  });
  seek.addEventListener('input', () => (video.currentTime = Number(seek.value)));
  volume.addEventListener('input', () => {
    video.volume = Number(volume.value);
    video.muted = video.volume === 0;
  });
  video.addEventListener('volumechange', () => {
    setIcon(mute, video.muted || video.volume === 0 ? 'muted' : 'volume');
    mute.setAttribute('aria-label', video.muted ? 'Unmute' : 'Mute');
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
      ArrowLeft: () => (video.currentTime = Math.max(0, video.currentTime - 5)),
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
    loadStoryboard(source.storyboard).then(
      (cues) => {
        seekWrap.addEventListener('mousemove', (e) => {
          const rect = seek.getBoundingClientRect();
          const t = ((e.clientX - rect.left) / rect.width) * (video.duration || 0);
          const cue = cues.find((c) => t >= c.start && t < c.end);
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
