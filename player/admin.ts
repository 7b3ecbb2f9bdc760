/** The marketer's recordings page: upload with progress, and every asset's processing progress, live. */
interface AssetSummary {
  id: string;
  title: string;
  status: string;
  stage: string;
  progress: number;
  error: string | null;
  durationSeconds: number | null;
  playback: { player: string; complete: boolean } | null;
}

const KEY_STORAGE = 'onair.apiKey';
const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;

function apiKey(): string | null {
  return localStorage.getItem(KEY_STORAGE);
}

function say(text: string): void {
  $('#message').textContent = text;
}

function cell(row: HTMLTableRowElement, content: string | Node): void {
  const td = row.insertCell();
  // textContent, never innerHTML: titles are user input.
  if (typeof content === 'string') td.textContent = content;
  else td.append(content);
}

function render(assets: AssetSummary[]): void {
  const body = $<HTMLTableSectionElement>('#assets');
  body.replaceChildren();
  for (const a of assets) {
    const row = body.insertRow();
    cell(row, a.title);
    const status = document.createElement('span');
    status.textContent = a.status === 'failed' ? `failed: ${a.error ?? ''}` : `${a.status} (${a.stage})`;
    if (a.status === 'failed') status.className = 'failed';
    cell(row, status);
    const bar = document.createElement('progress');
    bar.max = 100;
    bar.value = a.progress;
    bar.setAttribute('aria-label', `${a.title}: ${a.progress}%`);
    cell(row, a.status === 'failed' ? '' : bar);
    cell(row, a.durationSeconds ? `${Math.round(a.durationSeconds)} s` : '');
    if (a.playback) {
      const link = document.createElement('a');
      link.href = a.playback.player;
      link.textContent = a.playback.complete ? 'Play' : 'Play (encoding)';
      cell(row, link);
    } else cell(row, '');
  }
}

async function refresh(): Promise<void> {
  const key = apiKey();
  if (!key) return say('Enter your API key (printed when onair first started).');
  const response = await fetch('/api/assets', { headers: { authorization: `Bearer ${key}` } });
  if (response.status === 401) return say('That API key is not valid.');
  if (!response.ok) return say('Could not load the recordings. Retrying…');
  const { assets } = (await response.json()) as { assets: AssetSummary[] };
  render(assets);
}

function upload(file: File, title: string): Promise<void> {
  const key = apiKey();
  if (!key) return Promise.resolve(say('Enter your API key first.'));
  const bar = $<HTMLProgressElement>('#upload-progress');
  bar.hidden = false;
  return new Promise((resolve) => {
    // XMLHttpRequest, not fetch: it reports upload progress. The body is the file itself.
    const xhr = new XMLHttpRequest();
    const query = new URLSearchParams({ title, filename: file.name });
    xhr.open('POST', `/api/assets?${query.toString()}`);
    xhr.setRequestHeader('authorization', `Bearer ${key}`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) bar.value = (e.loaded / e.total) * 100;
    };
    xhr.onload = () => {
      bar.hidden = true;
      if (xhr.status === 202) say(`Uploaded "${title}". Processing has started.`);
      else
        say(
          (JSON.parse(xhr.responseText) as { error?: { message?: string } }).error?.message ??
            'Upload failed.',
        );
      resolve(refresh());
    };
    xhr.onerror = () => {
      bar.hidden = true;
      say('The upload was interrupted. Try again.');
      resolve();
    };
    xhr.send(file);
  });
}

$('#key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  localStorage.setItem(KEY_STORAGE, $<HTMLInputElement>('#key').value.trim());
  say('');
  void refresh();
});
$('#upload-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const file = $<HTMLInputElement>('#file').files?.[0];
  if (file) void upload(file, $<HTMLInputElement>('#title').value);
});
void refresh();
setInterval(() => void refresh(), 2000);
