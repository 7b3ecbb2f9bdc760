/**
 * A small tus 1.0.0 client for the admin page (https://tus.io/protocols/resumable-upload; the
 * server is `src/http/tus-routes.ts`): creates an upload, sends the file in PATCHes of
 * `CHUNK_BYTES` with progress, and when the connection drops asks the server how much it has
 * (HEAD) and goes on from there. The upload's URL is remembered per file in localStorage, so after
 * a reload choosing the same file (and title) again resumes it instead of starting over.
 */

const TUS_HEADERS = { 'Tus-Resumable': '1.0.0' };
const OCTETS = 'application/offset+octet-stream';
/** A multiple of the server's 8 MiB parts, so every PATCH but the last stores whole parts. */
const CHUNK_BYTES = 64 * 1024 * 1024;
/** Waits before each retry in a row without progress; then the upload gives up. */
const RETRY_DELAYS_MS = [1000, 3000, 5000, 10_000, 20_000, 30_000, 60_000];
const STORAGE_PREFIX = 'onair.upload:';

export interface ResumableUploadOptions {
  /** Where uploads are created (same origin as the page). */
  readonly endpoint: string;
  /** Upload-Metadata pairs; `title` is required by onair. */
  readonly metadata: Record<string, string>;
  /** Extra headers for every request (an API key, a CSRF token). */
  readonly headers?: () => Record<string, string>;
  readonly onProgress?: (sent: number, total: number) => void;
  /** An earlier upload of this file was found and goes on from `offset`. */
  readonly onResume?: (offset: number, total: number) => void;
  /** The connection dropped; the next attempt is in `delayMs`. */
  readonly onRetry?: (delayMs: number) => void;
}

export class UploadError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Answer {
  readonly status: number;
  readonly header: (name: string) => string | null;
  readonly text: string;
}

/** The key a file's upload URL is kept under: what the browser knows of the file, and the title. */
function fingerprint(file: File, metadata: Record<string, string>): string {
  return `${STORAGE_PREFIX}${[file.name, file.size, file.lastModified, file.type, metadata.title ?? ''].join('\u0000')}`;
}

function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function messageOf(answer: Answer): string {
  try {
    return (
      (JSON.parse(answer.text) as { error?: { message?: string } }).error?.message ?? `HTTP ${answer.status}`
    );
  } catch {
    return `HTTP ${answer.status}`;
  }
}

/** Worth asking the offset and going on: no answer (network), 409 offset moved, 423 being assembled, 5xx. */
function retryable(err: unknown): boolean {
  if (!(err instanceof UploadError)) return false;
  return err.status === 0 || err.status === 409 || err.status === 423 || err.status >= 500;
}

/** One request by XMLHttpRequest: unlike fetch it reports upload progress. */
function send(
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: Blob,
  onSent?: (loaded: number) => void,
): { answer: Promise<Answer>; abort: () => void } {
  const xhr = new XMLHttpRequest();
  const answer = new Promise<Answer>((resolve, reject) => {
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    if (onSent) xhr.upload.onprogress = (e) => onSent(e.loaded);
    xhr.onload = () =>
      resolve({ status: xhr.status, header: (name) => xhr.getResponseHeader(name), text: xhr.responseText });
    xhr.onerror = () => reject(new UploadError(0, 'The connection dropped.'));
    xhr.onabort = () => reject(new UploadError(-1, 'The upload was stopped.'));
    xhr.send(body ?? null);
  });
  return { answer, abort: () => xhr.abort() };
}

/**
 * Uploads `file`, resuming an earlier upload of it if the server still has one. Resolves with the
 * asset id once the file is whole on the server.
 */
export function uploadResumable(
  file: File,
  opts: ResumableUploadOptions,
): { done: Promise<{ assetId: string }>; abort: () => void } {
  const key = fingerprint(file, opts.metadata);
  let stopped = false;
  let current: { abort: () => void } | undefined;
  const request = async (method: string, url: string, headers: Record<string, string>, body?: Blob) => {
    if (stopped) throw new UploadError(-1, 'The upload was stopped.');
    const sending = send(method, url, { ...opts.headers?.(), ...TUS_HEADERS, ...headers }, body, (loaded) =>
      opts.onProgress?.(Math.min(file.size, offset + loaded), file.size),
    );
    current = sending;
    return sending.answer;
  };
  let offset = 0;

  /** The upload's offset and asset (when finished), or undefined when the server no longer has it. */
  const head = async (url: string): Promise<{ offset: number; assetId: string | null } | undefined> => {
    const answer = await request('HEAD', url, {});
    if (answer.status === 404 || answer.status === 410 || answer.status === 403) return undefined;
    if (answer.status !== 200) throw new UploadError(answer.status, messageOf(answer));
    return { offset: Number(answer.header('Upload-Offset')), assetId: answer.header('Onair-Asset-Id') };
  };

  const create = async (): Promise<string> => {
    const metadata = Object.entries(opts.metadata)
      .map(([name, value]) => `${name} ${base64(value)}`)
      .join(',');
    const answer = await request('POST', opts.endpoint, {
      'Upload-Length': String(file.size),
      'Upload-Metadata': metadata,
    });
    const location = answer.header('Location');
    if (answer.status !== 201 || !location) throw new UploadError(answer.status, messageOf(answer));
    // The API is on this page's origin: keep the path, whatever host the server names.
    const url = new URL(location, window.location.href).pathname;
    localStorage.setItem(key, url);
    return url;
  };

  const done = (async () => {
    let url = localStorage.getItem(key);
    let assetId: string | null = null;
    if (url) {
      const found = await head(url).catch((err: unknown) => {
        // Unreachable for now (null): the PATCH below fails too, and asks again after a delay.
        if (retryable(err)) return null;
        throw err;
      });
      if (found === undefined) url = null;
      else if (found) {
        ({ offset, assetId } = found);
        opts.onResume?.(offset, file.size);
      }
    }
    url ??= await create();

    let failures = 0;
    while (!assetId) {
      const from = offset;
      try {
        const end = Math.min(file.size, offset + CHUNK_BYTES);
        const answer = await request(
          'PATCH',
          url,
          { 'Content-Type': OCTETS, 'Upload-Offset': String(offset) },
          file.slice(offset, end),
        );
        if (answer.status !== 204) throw new UploadError(answer.status, messageOf(answer));
        offset = Number(answer.header('Upload-Offset'));
        assetId = answer.header('Onair-Asset-Id');
        opts.onProgress?.(offset, file.size);
        failures = 0;
      } catch (err) {
        if (!retryable(err) || failures >= RETRY_DELAYS_MS.length) throw err;
        const delay = RETRY_DELAYS_MS[failures]!;
        failures += 1;
        opts.onRetry?.(delay);
        await new Promise((r) => setTimeout(r, delay));
        const found = await head(url).catch((headErr: unknown) => {
          if (retryable(headErr)) return null;
          throw headErr;
        });
        if (found === undefined) {
          localStorage.removeItem(key);
          throw new UploadError(410, 'The server no longer has this upload: start it again.');
        }
        if (found) {
          ({ offset, assetId } = found);
          opts.onProgress?.(offset, file.size);
          // Bytes got through before the drop: the next drop starts the delays over.
          if (offset > from) failures = 0;
        }
      }
    }
    localStorage.removeItem(key);
    return { assetId };
  })();
  return {
    done,
    abort: () => {
      stopped = true;
      current?.abort();
    },
  };
}
