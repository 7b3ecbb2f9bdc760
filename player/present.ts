/**
 * The presenter's page (`/present/<eventId>`): go live from the browser over WHIP (RFC 9725).
 * The camera, a screen, or a screen with the camera in a corner (composed on a canvas), and the
 * microphone, are offered in one `sendonly` POST with the event's stream key as bearer token; the
 * `Location` of the answer is the session, which a DELETE ends (the event ends with it). A dropped
 * connection is not a DELETE: the server keeps the event live for a grace period, and the page
 * publishes again with a new offer. `?clock=1` sends a clock instead of the camera (the latency
 * benchmark reads it back from the HLS).
 *
 * Two ways in: signed in to the app (a presenter of the event, or staff), or a guest presenter's
 * link (`#link=<token>`, made by an owner or manager): the token is kept for this tab, taken out
 * of the address bar, and sent as a bearer to `/api/present/:id` instead of the session's API.
 */
import { api, requireSession } from './admin-session.ts';

/** What GET /api/events/:id and GET /api/present/:id answer (the fields this page uses). */
interface PresentEvent {
  id: string;
  title: string;
  pageUrl: string;
  type: 'on_demand' | 'live' | 'automated';
  live?: {
    status: string;
    whipUrl: string | null;
    streamKey: string;
    streamKeyDisabled: boolean;
  } | null;
}

/** What GET /api/events/:id/live and GET /api/present/:id/live answer (the fields this page uses). */
interface LiveHealth {
  status: string;
  viewersNow: number;
}

type Source = 'camera' | 'screen' | 'screen-camera' | 'clock';
type State = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'failed' | 'ended';

const MAX_BITRATE = 2_500_000;
/** How long an offer waits for its ICE candidates (no trickle: RFC 9725 §4.3 makes it optional). */
const ICE_GATHERING_MS = 2_000;
/** From the answer to a connected transport; longer means UDP is blocked on the way. */
const CONNECT_TIMEOUT_MS = 15_000;
/** Reconnecting stops after this long: the server's grace period is about as long. */
const RECONNECT_WINDOW_MS = 30_000;

const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;
const warn = (what: string, err: unknown) => console.warn(`onair present: ${what}`, err);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function say(text: string): void {
  $('#message').textContent = text;
}

const LINK_REFUSED = 'This presenter link is not valid or has expired: ask the organiser for a new one.';

/**
 * How this page reads the event: with the session (the app's API) or with a presenter link's
 * token (its own API, the token as bearer, no cookie).
 */
interface Access {
  readonly viaLink: boolean;
  readonly eventPath: string;
  readonly livePath: string;
  get(path: string): Promise<Response>;
}

/**
 * A presenter link's token: from the fragment (then kept in this tab's sessionStorage, per event,
 * and taken out of the address bar and the history), else from an earlier load of this tab.
 */
function linkToken(eventId: string): string | undefined {
  const stored = `onair.present.${eventId}`;
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('link') ?? undefined;
  if (fromHash) history.replaceState(null, '', location.pathname + location.search);
  try {
    if (fromHash) sessionStorage.setItem(stored, fromHash);
    return fromHash ?? sessionStorage.getItem(stored) ?? undefined;
  } catch (err) {
    // Storage off (a privacy setting): the link works for this load only.
    warn('sessionStorage', err);
    return fromHash;
  }
}

function accessFor(eventId: string): Access {
  const token = linkToken(eventId);
  if (token === undefined)
    return {
      viaLink: false,
      eventPath: `/api/events/${eventId}`,
      livePath: `/api/events/${eventId}/live`,
      get: (path) => api(path),
    };
  return {
    viaLink: true,
    eventPath: `/api/present/${eventId}`,
    livePath: `/api/present/${eventId}/live`,
    get: (path) => fetch(path, { credentials: 'omit', headers: { authorization: `Bearer ${token}` } }),
  };
}

/** Set when the page's Content-Security-Policy blocked the WHIP server (a fetch only says "failed"). */
let blockedByPolicy = '';

/**
 * Starts an audio context now or at the first click or key (the browsers' autoplay rules);
 * returns what closes it.
 */
function runningAudio(context: AudioContext): () => void {
  const resume = () => void context.resume();
  resume();
  document.addEventListener('pointerdown', resume);
  document.addEventListener('keydown', resume);
  return () => {
    document.removeEventListener('pointerdown', resume);
    document.removeEventListener('keydown', resume);
    void context.close();
  };
}

// ---------------------------------------------------------------------------------------------
// Media: what is sent, and what is shown while it is.

/** A video and an audio track ready to send, and how to release everything behind them. */
interface Media {
  source: Source;
  stream: MediaStream;
  video: MediaStreamTrack;
  audio: MediaStreamTrack;
  /** The shared screen: the browser's own "Stop sharing" ends it. */
  screen?: MediaStreamTrack;
  cameraId?: string;
  microphoneId?: string;
  stop: () => void;
}

/** Which device refused, so the message can say what to do about it. */
class MediaFailure extends Error {
  constructor(
    readonly device: 'screen' | 'camera' | 'microphone',
    readonly reason: unknown,
  ) {
    super(`${device}: ${String(reason)}`);
  }
}

/**
 * A tick at `fps` that keeps its pace in a background tab (a page's timers and animation frames
 * slow to 1 Hz or stop there; a worker's timers do not), which is where this page is while its
 * presenter shows another window.
 */
function ticker(fps: number, tick: () => void): () => void {
  const ms = Math.round(1000 / fps);
  const url = URL.createObjectURL(
    new Blob([`setInterval(function(){postMessage(0)},${ms})`], { type: 'text/javascript' }),
  );
  try {
    const worker = new Worker(url);
    worker.onmessage = tick;
    return () => {
      worker.terminate();
      URL.revokeObjectURL(url);
    };
  } catch (err) {
    warn('no worker for the frame clock, using a page timer', err);
    URL.revokeObjectURL(url);
    const timer = setInterval(tick, ms);
    return () => clearInterval(timer);
  }
}

/** An off-page <video> playing a track, for drawing on a canvas. */
function playing(track: MediaStreamTrack): HTMLVideoElement {
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.srcObject = new MediaStream([track]);
  void video.play().catch((err: unknown) => warn('a source video does not play', err));
  return video;
}

/** A canvas drawn at 30 fps, as a video track. */
function canvasTrack(
  width: number,
  height: number,
  draw: (canvas: HTMLCanvasElement, g: CanvasRenderingContext2D) => void,
): { track: MediaStreamTrack; stop: () => void } {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const g = canvas.getContext('2d')!;
  draw(canvas, g);
  const stopTicks = ticker(30, () => draw(canvas, g));
  const track = canvas.captureStream(30).getVideoTracks()[0]!;
  return {
    track,
    stop: () => {
      stopTicks();
      track.stop();
    },
  };
}

/**
 * The screen with the camera in the bottom-right corner (a fifth of the width). The canvas
 * follows the screen's size (a shared window can be resized), at most 1920x1080, even sides.
 */
function pictureInPicture(screen: MediaStreamTrack, camera: MediaStreamTrack) {
  const screenVideo = playing(screen);
  const cameraVideo = playing(camera);
  const composed = canvasTrack(1280, 720, (canvas, g) => {
    const sw = screenVideo.videoWidth;
    const sh = screenVideo.videoHeight;
    if (!sw || !sh) return;
    const scale = Math.min(1, 1920 / sw, 1080 / sh);
    const w = Math.round((sw * scale) / 2) * 2;
    const h = Math.round((sh * scale) / 2) * 2;
    if (canvas.width !== w || canvas.height !== h) Object.assign(canvas, { width: w, height: h });
    g.drawImage(screenVideo, 0, 0, w, h);
    const cw = cameraVideo.videoWidth;
    const ch = cameraVideo.videoHeight;
    if (!cw || !ch) return;
    const pw = Math.round(w / 5);
    const ph = Math.round((pw * ch) / cw);
    const margin = Math.round(w / 60);
    g.drawImage(cameraVideo, w - pw - margin, h - ph - margin, pw, ph);
  });
  return {
    track: composed.track,
    stop: () => {
      composed.stop();
      screenVideo.srcObject = cameraVideo.srcObject = null;
    },
  };
}

/**
 * The latency benchmark's picture: the barcode its ffmpeg publisher burns in
 * (`test/bench/live-latency.ts` reads both the same way): `Date.now()` in 10 ms units modulo 2^24,
 * bit k a 32x32 box at ((k mod 12)·32, floor(k / 12)·32), white for 1, on a black 384x64 band; and
 * the time in large digits for people.
 */
function clock() {
  const bits = 24;
  const box = 32;
  return canvasTrack(1280, 720, (_canvas, g) => {
    const now = Date.now();
    const code = Math.floor(now / 10) % 2 ** bits;
    g.fillStyle = '#223';
    g.fillRect(0, 0, 1280, 720);
    g.fillStyle = '#000';
    g.fillRect(0, 0, 12 * box, 2 * box);
    g.fillStyle = '#fff';
    for (let k = 0; k < bits; k++) {
      if (Math.floor(code / 2 ** k) % 2 === 1) g.fillRect((k % 12) * box, Math.floor(k / 12) * box, box, box);
    }
    g.textAlign = 'center';
    g.textBaseline = 'middle';
    g.font = 'bold 120px monospace';
    g.fillText(String(now), 640, 340);
    g.font = '48px monospace';
    g.fillText(new Date(now).toISOString().slice(11, 23), 640, 480);
  });
}

/** The camera as a sender would like it: 720p at 30 fps where it can. */
function cameraConstraints(deviceId: string): MediaTrackConstraints {
  return {
    ...(deviceId ? { deviceId: { exact: deviceId } } : {}),
    width: { ideal: 1280 },
    height: { ideal: 720 },
    frameRate: { ideal: 30 },
  };
}

/** Silence, for the clock when there is no microphone (the live pipeline expects audio). */
function silence(): { track: MediaStreamTrack; stop: () => void } {
  const context = new AudioContext();
  const track = context.createMediaStreamDestination().stream.getAudioTracks()[0]!;
  const close = runningAudio(context);
  return {
    track,
    stop: () => {
      track.stop();
      close();
    },
  };
}

async function openMedia(source: Source, cameraId: string, microphoneId: string): Promise<Media> {
  const releases: (() => void)[] = [];
  const stop = () => releases.splice(0).forEach((release) => release());
  const held = (stream: MediaStream) => {
    releases.push(() => stream.getTracks().forEach((t) => t.stop()));
    return stream;
  };
  try {
    const devices = navigator.mediaDevices;
    // The screen first: its picker needs the user's click, which awaiting the camera would use up.
    let screen: MediaStreamTrack | undefined;
    if (source === 'screen' || source === 'screen-camera') {
      try {
        const captured = held(await devices.getDisplayMedia({ video: { frameRate: { ideal: 30 } } }));
        screen = captured.getVideoTracks()[0]!;
        screen.contentHint = 'detail';
      } catch (err) {
        throw new MediaFailure('screen', err);
      }
    }
    const withCamera = source === 'camera' || source === 'screen-camera';
    const audioConstraints: MediaTrackConstraints = microphoneId ? { deviceId: { exact: microphoneId } } : {};
    let captured: MediaStream | undefined;
    try {
      // One request for both, so the browser asks once.
      captured = held(
        await devices.getUserMedia({
          video: withCamera ? cameraConstraints(cameraId) : false,
          audio: audioConstraints,
        }),
      );
    } catch (err) {
      if (source !== 'clock') throw new MediaFailure(withCamera ? 'camera' : 'microphone', err);
      warn('no microphone for the clock, sending silence', err);
    }
    const camera = captured?.getVideoTracks()[0];
    let audio = captured?.getAudioTracks()[0];
    if (!audio) {
      const quiet = silence();
      releases.push(quiet.stop);
      audio = quiet.track;
    }
    let video: MediaStreamTrack;
    if (source === 'camera') video = camera!;
    else if (source === 'screen') video = screen!;
    else {
      const drawn = source === 'clock' ? clock() : pictureInPicture(screen!, camera!);
      releases.push(drawn.stop);
      video = drawn.track;
      video.contentHint = 'detail';
    }
    return {
      source,
      stream: new MediaStream([video, audio]),
      video,
      audio,
      ...(screen ? { screen } : {}),
      ...(camera ? { cameraId: camera.getSettings().deviceId } : {}),
      ...(captured?.getAudioTracks()[0] ? { microphoneId: audio.getSettings().deviceId } : {}),
      stop,
    };
  } catch (err) {
    stop();
    throw err;
  }
}

/** What to tell the presenter when a device cannot be used, and what to do about it. */
function mediaProblem(err: unknown): string {
  if (!(err instanceof MediaFailure)) return `Could not start the camera or microphone: ${String(err)}`;
  const name = err.reason instanceof DOMException ? err.reason.name : '';
  const what = err.device === 'camera' ? 'camera or microphone' : err.device;
  if (err.device === 'screen' && name === 'NotAllowedError')
    return 'Screen sharing was cancelled or is not allowed. Choose the source again to pick a screen or window.';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return `The browser is not allowed to use your ${what}. Allow it for this site (the camera icon in the address bar, or the site settings), then choose the source again.`;
    case 'NotFoundError':
      return `No ${what} was found. Connect one, then choose it in the list (or choose another source).`;
    case 'NotReadableError':
    case 'AbortError':
      return `Your ${what} could not start: another application (a video call?) may be using it. Close it, then choose the source again.`;
    case 'OverconstrainedError':
      return `The chosen ${what} is no longer available. Choose another one in the list.`;
    default:
      return `Could not start the ${what}: ${String(err.reason)}`;
  }
}

/** The microphone's loudness on the meter, from -60 dB (empty) to 0 dB (full). */
function levelMeter(track: MediaStreamTrack, meter: HTMLMeterElement): () => void {
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 1024;
  context.createMediaStreamSource(new MediaStream([track])).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const close = runningAudio(context);
  const timer = setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    const db = 10 * Math.log10(sum / samples.length || 1e-10);
    meter.value = Math.max(0, Math.min(1, (db + 60) / 60));
    meter.setAttribute('aria-valuetext', db < -59 ? 'silent' : `${Math.round(db)} dB`);
  }, 100);
  return () => {
    clearInterval(timer);
    close();
    meter.value = 0;
    meter.setAttribute('aria-valuetext', 'off');
  };
}

function fillDevices(select: HTMLSelectElement, devices: MediaDeviceInfo[], current?: string): void {
  const keep = current ?? select.value;
  const noun = select.id === 'camera' ? 'Camera' : 'Microphone';
  select.replaceChildren(
    ...devices.map(
      (d, i) => new Option(d.label || `${noun} ${i + 1}`, d.deviceId, false, d.deviceId === keep),
    ),
  );
  if (!devices.length) select.add(new Option('None found', ''));
}

/** The device lists (their names are only given once the page may use a device). */
async function listDevices(media?: Media): Promise<void> {
  const devices = await navigator.mediaDevices.enumerateDevices();
  fillDevices(
    $<HTMLSelectElement>('#camera'),
    devices.filter((d) => d.kind === 'videoinput'),
    media?.cameraId,
  );
  fillDevices(
    $<HTMLSelectElement>('#microphone'),
    devices.filter((d) => d.kind === 'audioinput'),
    media?.microphoneId,
  );
}

// ---------------------------------------------------------------------------------------------
// WHIP (RFC 9725): one POST per session, a DELETE to end it.

class WhipError extends Error {
  /** `final`: trying again cannot help (a bad key, a disabled key, an ended event). */
  constructor(
    message: string,
    readonly final: boolean,
    readonly status = 0,
  ) {
    super(message);
  }
}

async function bodyText(response: Response): Promise<string> {
  try {
    return (await response.text()).trim().slice(0, 500);
  } catch (err) {
    warn('unreadable response body', err);
    return '';
  }
}

async function refusal(response: Response): Promise<WhipError> {
  const text = await bodyText(response);
  switch (response.status) {
    case 401:
      return new WhipError(
        'This stream key is not valid: ask the organiser for the presenter link again.',
        true,
        401,
      );
    case 403:
      return new WhipError(text || 'The streaming server refused this broadcast.', true, 403);
    case 409:
      return new WhipError(
        'Another encoder (OBS, or this page in another tab) is already streaming this event. Stop it, then press Go live again.',
        false,
        409,
      );
    case 503:
      return new WhipError('The streaming server is busy. Try again in a minute.', false, 503);
    default:
      return new WhipError(
        `The streaming server answered ${response.status}${text ? `: ${text}` : ''}. Try again in a moment.`,
        false,
        response.status,
      );
  }
}

/** Resolves once the offer has its candidates, or after `ms` with those it has. */
function gathered(pc: RTCPeerConnection, ms: number): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const timer = setTimeout(done, ms);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/** Resolves when the transport is up; rejects when it fails or takes longer than `ms`. */
function connected(pc: RTCPeerConnection, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (fn: () => void) => {
      clearTimeout(timer);
      pc.removeEventListener('connectionstatechange', check);
      fn();
    };
    const check = () => {
      if (pc.connectionState === 'connected') settle(resolve);
      else if (pc.connectionState === 'failed' || pc.connectionState === 'closed')
        settle(() => reject(new WhipError('The connection to the streaming server failed.', false)));
    };
    const timer = setTimeout(
      () =>
        settle(() =>
          reject(
            new WhipError(
              'Could not connect to the streaming server: this network may block it (WebRTC needs UDP). Try another network.',
              false,
            ),
          ),
        ),
      ms,
    );
    pc.addEventListener('connectionstatechange', check);
    check();
  });
}

/**
 * H.264 first (packetization-mode=1, constrained baseline before other profiles): the live
 * pipeline can then copy the video rather than encode it again. Browsers without the API or the
 * codec send what they have.
 */
function preferH264(transceiver: RTCRtpTransceiver): void {
  const codecs = RTCRtpReceiver.getCapabilities('video')?.codecs;
  if (!codecs || typeof transceiver.setCodecPreferences !== 'function') return;
  const rank = (c: RTCRtpCodec) => {
    if (c.mimeType.toLowerCase() !== 'video/h264') return 3;
    if (!/packetization-mode=1/.test(c.sdpFmtpLine ?? '')) return 2;
    return /profile-level-id=42e0/i.test(c.sdpFmtpLine ?? '') ? 0 : 1;
  };
  try {
    transceiver.setCodecPreferences([...codecs].sort((a, b) => rank(a) - rank(b)));
  } catch (err) {
    warn('H.264 could not be put first', err);
  }
}

/** The bitrate cap, and frames dropped rather than pixels when the network is short (slides stay sharp). */
async function tuneVideoSender(sender: RTCRtpSender): Promise<void> {
  const params = sender.getParameters();
  for (const encoding of params.encodings) encoding.maxBitrate = MAX_BITRATE;
  params.degradationPreference = 'maintain-resolution';
  try {
    await sender.setParameters(params);
  } catch (err) {
    warn('sender parameters not applied', err);
  }
}

interface WhipSession {
  pc: RTCPeerConnection;
  /** Where the DELETE goes; unknown when the server's CORS headers do not expose `Location`. */
  resource: URL | undefined;
}

async function publish(whipUrl: string, key: string, media: Media): Promise<WhipSession> {
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  try {
    const video = pc.addTransceiver(media.video, {
      direction: 'sendonly',
      streams: [media.stream],
      sendEncodings: [{ maxBitrate: MAX_BITRATE }],
    });
    preferH264(video);
    pc.addTransceiver(media.audio, { direction: 'sendonly', streams: [media.stream] });
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, ICE_GATHERING_MS);
    let response: Response;
    try {
      response = await fetch(whipUrl, {
        method: 'POST',
        credentials: 'omit',
        headers: { 'content-type': 'application/sdp', authorization: `Bearer ${key}` },
        body: pc.localDescription!.sdp,
      });
    } catch (err) {
      warn('WHIP POST', err);
      throw new WhipError(
        blockedByPolicy ||
          'Could not reach the streaming server. Check your internet connection, then try again.',
        Boolean(blockedByPolicy),
      );
    }
    if (response.status !== 201) throw await refusal(response);
    const location = response.headers.get('location');
    await pc.setRemoteDescription({ type: 'answer', sdp: await response.text() });
    await tuneVideoSender(video.sender);
    return { pc, resource: location ? new URL(location, whipUrl) : undefined };
  } catch (err) {
    pc.close();
    throw err;
  }
}

/** Ends the session on the server (RFC 9725 §4.2); true when the server took it. */
async function unpublish(resource: URL, key: string): Promise<boolean> {
  try {
    const response = await fetch(resource, {
      method: 'DELETE',
      credentials: 'omit',
      headers: { authorization: `Bearer ${key}` },
      signal: AbortSignal.timeout(5_000),
    });
    // Not ok (a 404 too: the server let the session go, a drop, and the grace period runs): the caller ends the event.
    return response.ok;
  } catch (err) {
    warn('WHIP DELETE', err);
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// The page.

class Presenter {
  private media: Media | undefined;
  private stopMeter: (() => void) | undefined;
  private session: WhipSession | undefined;
  private state: State = 'idle';
  /** Bumped by every new preview request, so a slow one that lost the race is dropped. */
  private previewRequest = 0;
  private lastSample: { pc: RTCPeerConnection; bytes: number; at: number } | undefined;
  private timers: ReturnType<typeof setInterval>[] = [];

  private readonly goLiveButton = $<HTMLButtonElement>('#go-live');
  private readonly endButton = $<HTMLButtonElement>('#end');
  private readonly retryButton = $<HTMLButtonElement>('#retry');
  private readonly sourceSelect = $<HTMLSelectElement>('#source');
  private readonly cameraSelect = $<HTMLSelectElement>('#camera');
  private readonly microphoneSelect = $<HTMLSelectElement>('#microphone');

  constructor(
    private readonly event: PresentEvent,
    private readonly whipUrl: string,
    private readonly key: string,
    private readonly access: Access,
  ) {}

  /** A method, not a comparison: the compiler would keep a narrowing of `state` across awaits. */
  private ended(): boolean {
    return this.state === 'ended';
  }

  private setState(state: State, text: string): void {
    this.state = state;
    const el = $('#state');
    el.dataset.state = state;
    el.textContent = text;
    document.body.dataset.state = state;
    const on = state === 'connecting' || state === 'live' || state === 'reconnecting';
    this.goLiveButton.disabled = on || state === 'ended';
    this.endButton.disabled = !(on || state === 'failed');
    this.retryButton.hidden = state !== 'failed';
  }

  /** Opens the chosen source and devices, shows them, and sends them if live. */
  async preview(): Promise<boolean> {
    if (this.ended()) return false;
    const request = ++this.previewRequest;
    const source = this.sourceSelect.value as Source;
    this.cameraSelect.disabled = source === 'screen' || source === 'clock';
    let media: Media;
    try {
      media = await openMedia(source, this.cameraSelect.value, this.microphoneSelect.value);
    } catch (err) {
      if (request === this.previewRequest) say(mediaProblem(err));
      return false;
    }
    if (request !== this.previewRequest || this.ended()) {
      media.stop();
      return false;
    }
    const old = this.media;
    this.media = media;
    $<HTMLVideoElement>('#preview').srcObject = media.stream;
    this.stopMeter?.();
    this.stopMeter = levelMeter(media.audio, $<HTMLMeterElement>('#level'));
    if (this.session) await this.send(this.session.pc, media);
    old?.stop();
    media.screen?.addEventListener('ended', () => {
      if (this.media !== media) return;
      say('Screen sharing stopped: back to the camera.');
      this.sourceSelect.value = 'camera';
      void this.preview();
    });
    if (this.state !== 'reconnecting' && this.state !== 'failed') say('');
    await listDevices(media).catch((err: unknown) => warn('device list', err));
    return true;
  }

  /** Switches what a running session sends, without a new offer. */
  private async send(pc: RTCPeerConnection, media: Media): Promise<void> {
    for (const t of pc.getTransceivers()) {
      const track = t.receiver.track.kind === 'audio' ? media.audio : media.video;
      try {
        await t.sender.replaceTrack(track);
      } catch (err) {
        warn('track not replaced', err);
      }
    }
  }

  async goLive(): Promise<void> {
    if (this.ended()) return;
    this.setState('connecting', 'Connecting…');
    say('');
    if (!this.media && !(await this.preview())) return this.setState('idle', 'Not live');
    try {
      await this.connect();
    } catch (err) {
      if (this.state !== 'connecting') return;
      this.drop();
      say(err instanceof WhipError ? err.message : `Could not go live: ${String(err)}`);
      this.setState('idle', 'Not live');
    }
  }

  /** One WHIP session, up to a connected transport. */
  private async connect(): Promise<void> {
    const media = this.media!;
    const session = await publish(this.whipUrl, this.key, media);
    if (this.ended()) {
      // Ended while the offer was out: end this session too.
      session.pc.close();
      if (session.resource) await unpublish(session.resource, this.key);
      return;
    }
    this.session = session;
    const { pc } = session;
    // The source was changed while the offer was out.
    if (this.media && this.media !== media) await this.send(pc, this.media);
    pc.addEventListener('connectionstatechange', () => this.onConnectionState(pc));
    this.watch();
    await connected(pc, CONNECT_TIMEOUT_MS);
    if (this.session === session && !this.ended()) this.setState('live', 'Live');
  }

  private onConnectionState(pc: RTCPeerConnection): void {
    if (this.session?.pc !== pc) return;
    const s = pc.connectionState;
    if (s === 'connected' && this.state === 'reconnecting') {
      // The transport came back by itself (ICE survives short outages).
      this.setState('live', 'Live');
      say('');
    } else if (s !== 'connected' && s !== 'connecting' && s !== 'closed' && this.state === 'live') {
      // `disconnected` or `failed` when the network goes; `new` when the server closes DTLS.
      void this.reconnect();
    }
  }

  /**
   * A new session after a drop, every 1, 2, 4, 8, 8… s for about 30 s. The old one is closed
   * here but not DELETEd: a DELETE says the presenter stopped, and the event would end with it.
   */
  private async reconnect(): Promise<void> {
    this.setState('reconnecting', 'Connection lost — reconnecting…');
    const lostAt = Date.now();
    let problem = '';
    for (let attempt = 0; Date.now() - lostAt < RECONNECT_WINDOW_MS; attempt++) {
      await sleep(Math.min(8, 2 ** attempt) * 1000);
      if (this.state !== 'reconnecting') return;
      if (this.session?.pc.connectionState === 'connected') {
        this.setState('live', 'Live');
        return;
      }
      this.drop();
      try {
        await this.connect();
        say('');
        return;
      } catch (err) {
        this.drop();
        if (this.state !== 'reconnecting') return;
        problem = err instanceof Error ? err.message : String(err);
        if (err instanceof WhipError && err.final) {
          this.setState('failed', 'Could not reconnect');
          return say(problem);
        }
        warn(`reconnect attempt ${attempt + 1}`, err);
      }
    }
    this.setState('failed', 'Could not reconnect');
    say(
      `Could not reconnect to the streaming server${problem ? ` (${problem})` : ''}. Check your internet connection, then press Try again.`,
    );
  }

  /** Lets the current session go without telling the server (a drop, not a stop). */
  private drop(): void {
    this.session?.pc.close();
    this.session = undefined;
  }

  async end(): Promise<void> {
    const session = this.session;
    const wasOn = this.state !== 'idle';
    this.setState('ended', 'Ending…');
    this.previewRequest++;
    this.session = undefined;
    session?.pc.close();
    const stopped = session?.resource ? await unpublish(session.resource, this.key) : false;
    // Without a session to DELETE (lost, or its Location not exposed), the app's own end; a
    // presenter link has no session to ask it with.
    if (!stopped && wasOn && !this.access.viaLink) {
      const r = await api(`/api/events/${this.event.id}/end`, { method: 'POST' });
      if (!r.ok) warn('end event', r.status);
    }
    this.finish('Broadcast ended');
    if (!stopped && wasOn && this.access.viaLink)
      say(
        'Your broadcast stopped, but the streaming server was not told: the event ends by itself after a short wait, or the organiser can end it from the app.',
      );
  }

  /** Everything off: the session, the devices, the polling. */
  private finish(text: string): void {
    this.drop();
    this.setState('ended', text);
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    this.stopMeter?.();
    this.media?.stop();
    this.media = undefined;
    $<HTMLVideoElement>('#preview').srcObject = null;
    for (const select of [this.sourceSelect, this.cameraSelect, this.microphoneSelect])
      select.disabled = true;
    $('#bitrate').textContent = $('#resolution').textContent = '–';
    $('#ended').hidden = false;
    $('#event-link').focus();
  }

  /** Outgoing figures every second, viewers every 3 s, from the first session on. */
  private watch(): void {
    if (this.timers.length) return;
    this.timers.push(
      setInterval(() => void this.sample().catch((err: unknown) => warn('stats', err)), 1000),
      setInterval(() => void this.pollHealth().catch((err: unknown) => warn('live health', err)), 3000),
    );
  }

  private async sample(): Promise<void> {
    const pc = this.session?.pc;
    if (!pc) return;
    const report = await pc.getStats();
    let out: RTCOutboundRtpStreamStats | undefined;
    let codec = '';
    report.forEach((s: RTCStats) => {
      const stats = s as RTCOutboundRtpStreamStats;
      if (s.type === 'outbound-rtp' && stats.kind === 'video') out = stats;
    });
    if (!out) return;
    if (out.codecId) {
      const c = report.get(out.codecId) as { mimeType?: string } | undefined;
      codec = c?.mimeType?.replace(/^video\//, '') ?? '';
    }
    const bytes = out.bytesSent ?? 0;
    const bitrate = $('#bitrate');
    const last = this.lastSample;
    if (last && last.pc === pc && out.timestamp > last.at) {
      const bps = Math.max(0, ((bytes - last.bytes) * 8 * 1000) / (out.timestamp - last.at));
      bitrate.dataset.bps = String(Math.round(bps));
      const limited = out.qualityLimitationReason;
      bitrate.textContent =
        `${Math.round(bps / 1000)} kbit/s` +
        (limited && limited !== 'none' ? ` (limited by ${limited})` : '');
    }
    this.lastSample = { pc, bytes, at: out.timestamp };
    const resolution = $('#resolution');
    if (out.frameWidth && out.frameHeight) {
      const fps = Math.round(out.framesPerSecond ?? 0);
      Object.assign(resolution.dataset, {
        width: String(out.frameWidth),
        height: String(out.frameHeight),
        fps: String(fps),
      });
      resolution.textContent = `${out.frameWidth}x${out.frameHeight}, ${fps} fps${codec ? `, ${codec}` : ''}`;
    }
  }

  private async pollHealth(): Promise<void> {
    const response = await this.access.get(this.access.livePath);
    if (response.status === 401 && this.access.viaLink) return say(LINK_REFUSED);
    if (!response.ok) return;
    const health = (await response.json()) as LiveHealth;
    const viewers = $('#viewers');
    viewers.dataset.value = String(health.viewersNow);
    viewers.textContent = String(health.viewersNow);
    if (health.status === 'ended' && !this.ended()) {
      say('The event was ended (from the app or by the server).');
      this.finish('Broadcast ended');
    }
  }
}

async function main(): Promise<void> {
  const id = /^\/present\/([A-Za-z0-9_]{1,40})$/.exec(location.pathname)?.[1];
  const access = id ? accessFor(id) : undefined;
  if (!access?.viaLink) await requireSession();
  if (!id || !access) return say('No such webinar.');
  // A guest has no app to go back to.
  if (access.viaLink) $('#back').hidden = true;
  const response = await access.get(access.eventPath);
  if (!response.ok)
    return say(
      response.status === 401 && access.viaLink
        ? LINK_REFUSED
        : response.status === 404 || response.status === 403
          ? 'No such webinar, or you are not one of its presenters.'
          : `Could not load the webinar (${response.status}).`,
    );
  const event = (await response.json()) as PresentEvent;
  document.title = `onair · go live · ${event.title}`;
  $('#event-title').textContent = `Go live: ${event.title}`;
  $<HTMLAnchorElement>('#event-link').href = event.pageUrl;
  const live = event.live;
  if (event.type !== 'live' || !live) return say('Only live webinars are broadcast from here.');
  if (!live.whipUrl)
    return say(
      'Going live from the browser is not switched on for this server: use OBS with the settings on the event page.',
    );
  if (!navigator.mediaDevices?.getUserMedia)
    return say('This page needs a secure connection (https) to use the camera and microphone.');
  if (live.status === 'ended') return say('This webinar has ended: it cannot go live again.');

  const whipOrigin = new URL(live.whipUrl).origin;
  document.addEventListener('securitypolicyviolation', (e) => {
    if (!e.blockedURI.startsWith(whipOrigin)) return;
    blockedByPolicy = `This page is not allowed to connect to the streaming server ${whipOrigin} (its Content-Security-Policy connect-src): tell the organiser.`;
    say(blockedByPolicy);
  });
  const source = $<HTMLSelectElement>('#source');
  if (typeof navigator.mediaDevices.getDisplayMedia !== 'function') {
    // Phones and tablets share no screen.
    for (const option of Array.from(source.options)) option.disabled = option.value !== 'camera';
  }
  if (new URLSearchParams(location.search).get('clock') === '1')
    source.add(new Option('Test clock (latency benchmark)', 'clock', true, true));

  const presenter = new Presenter(event, live.whipUrl, live.streamKey, access);
  for (const select of ['#source', '#camera', '#microphone'])
    $(select).addEventListener('change', () => void presenter.preview());
  $('#go-live').addEventListener('click', () => void presenter.goLive());
  $('#retry').addEventListener('click', () => void presenter.goLive());
  $('#end').addEventListener('click', () => void presenter.end());
  navigator.mediaDevices.addEventListener('devicechange', () => {
    listDevices().catch((err: unknown) => warn('device list', err));
  });
  $<HTMLButtonElement>('#go-live').disabled = false;
  if (live.streamKeyDisabled)
    say('The stream key of this webinar is disabled: ask the organiser to enable it before going live.');
  else await presenter.preview();
}

void main().catch((err: unknown) => say(String(err)));
