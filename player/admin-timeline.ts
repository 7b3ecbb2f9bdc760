/**
 * The interactions timeline of a webinar's page: the recording's storyboard along its duration, a
 * scrubber with a small preview player, and the calls-to-action, polls and scripted chat placed on
 * it. The panel edits the event's `interactions` (the JSON `PATCH /api/events/:id` takes, which
 * sessions and replays carry as EXT-X-DATERANGE); the server's schema judges what is saved.
 * Pure rules (storyboard cues, m:ss, edits) are in timeline-model.ts.
 */
import { loadRecordingPlayer } from './admin-dom.ts';
import type { AdminEvent } from './admin-event.ts';
import { api } from './admin-session.ts';
import { injectStyles } from './player.css.ts';
import type { Preview } from './timeline-preview.ts';
import {
  checkDraft,
  draftOf,
  formatTime,
  idsOf,
  interactionsFrom,
  KIND_NAMES,
  LIMITS,
  newItemId,
  parseTime,
  placeDraft,
  removeItem,
  roundTime,
  sameInteractions,
  serverProblemOf,
  sortInteractions,
  spreadTiles,
  timelineItems,
  type Draft,
  type DraftField,
  type DraftProblem,
  type Kind,
  type TimelineItem,
} from './timeline-model.ts';
import { parseStoryboardVtt, tileAt, type StoryboardTile } from './storyboard.ts';

/** What GET /api/assets/:id answers (the fields the timeline uses). */
interface TimelineAsset {
  durationSeconds: number | null;
  playback: { master: string; poster: string | null; storyboard: string | null; complete: boolean } | null;
}

const KINDS: Kind[] = ['cta', 'poll', 'chat'];
const LEGEND: Record<Kind, string> = { cta: 'Calls-to-action', poll: 'Polls', chat: 'Chat' };
const STRIP_HEIGHT = 60;

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  text = '',
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

function note(panel: HTMLElement, text: string): void {
  panel.append(h('p', {}, text));
}

export async function mountTimeline(event: AdminEvent, panel: HTMLElement): Promise<void> {
  if (event.type !== 'automated') {
    // The origin adds interactions to session playlists only (src/origin/origin-handler.ts).
    return note(
      panel,
      'Timed calls-to-action, polls and chat play in automated webinars, in every session and its replay. On-demand playback does not carry them.',
    );
  }
  const response = await api(`/api/assets/${encodeURIComponent(event.assetId ?? '')}`);
  if (!response.ok) return note(panel, 'Could not load the recording for the timeline.');
  const asset = (await response.json()) as TimelineAsset;
  if (!asset.playback?.complete || !asset.durationSeconds) {
    return note(panel, 'The recording is still being processed: the timeline opens once it is ready.');
  }
  injectStyles(TIMELINE_CSS);
  buildTimeline(event, panel, asset.durationSeconds, asset.playback);
}

function buildTimeline(
  event: AdminEvent,
  panel: HTMLElement,
  duration: number,
  playback: NonNullable<TimelineAsset['playback']>,
): void {
  let saved = sortInteractions(interactionsFrom(event.interactions));
  let work = saved;
  let at = 0;
  let editing: { kind: Kind; id: string } | undefined;
  let tiles: StoryboardTile[] = [];

  // ---- preview, strip, scrubber
  const intro = h(
    'p',
    { id: 'timeline-intro' },
    'Pick a moment with the scrubber or type its time, then place a call-to-action, a poll or a chat message there. Viewers see them at that point of the recording, in every session and replay, once saved.',
  );
  const stage = h('div', { class: 'tl-stage' });
  const video = h('video', {
    class: 'tl-video',
    playsinline: '',
    preload: 'metadata',
    'aria-label': 'Preview of the recording',
  });
  if (playback.poster) video.poster = playback.poster;
  // The storyboard still at the picked time, until the preview plays (then the video shows it).
  const still = h('canvas', { class: 'tl-still', 'aria-hidden': 'true' });
  still.hidden = true;
  const playButton = h('button', { type: 'button', id: 'timeline-play' }, 'Play preview');
  const clock = h('span', { class: 'tl-clock', id: 'timeline-clock' }, '');
  const previewNote = h('p', { class: 'tl-note' });
  previewNote.hidden = true;
  stage.append(video, still, h('div', { class: 'tl-preview-controls' }));
  stage.lastElementChild!.append(playButton, clock, previewNote);

  const track = h('div', { class: 'tl-track', 'aria-hidden': 'true' });
  const strip = h('canvas', { class: 'tl-strip' });
  const lanes = h('div', { class: 'tl-lanes' });
  const playhead = h('div', { class: 'tl-playhead' });
  track.append(strip, lanes, playhead);
  const legend = h('p', { class: 'tl-legend' });
  for (const kind of KINDS) legend.append(h('span', { class: `tl-swatch tl-${kind}` }), ` ${LEGEND[kind]} `);

  const scrubLabel = h(
    'label',
    { for: 'timeline-scrubber', class: 'tl-scrub-label' },
    'Time in the recording',
  );
  const scrubber = h('input', {
    type: 'range',
    id: 'timeline-scrubber',
    min: '0',
    max: String(duration),
    step: '0.1',
    value: '0',
    'aria-describedby': 'timeline-scrubber-hint',
  });
  const scrubHint = h(
    'p',
    { id: 'timeline-scrubber-hint', class: 'tl-hint' },
    '← and → move a second (with Shift a tenth), Page Up and Page Down ten seconds.',
  );

  // ---- the form: place or edit one item
  const form = h('form', { id: 'timeline-form', 'aria-labelledby': 'timeline-form-title' });
  form.noValidate = true; // checkDraft says what is wrong, next to the field
  const formTitle = h('h3', { id: 'timeline-form-title' });
  const kindSelect = h('select');
  for (const kind of KINDS) kindSelect.append(new Option(KIND_NAMES[kind], kind));
  const controls = new Map<DraftField, HTMLInputElement | HTMLTextAreaElement>();
  const errors = new Map<DraftField, HTMLElement>();

  /**
   * A labelled control with its hint and error line. They sit beside the label, not in it (the
   * label is the field's name), and are announced with the field through aria-describedby.
   */
  function labelled(id: string, label: string, control: HTMLElement, hint?: string): HTMLElement {
    control.id = id;
    const wrap = h('div', { class: 'tl-field' });
    wrap.append(h('label', { for: id }, label), control);
    if (hint) wrap.append(h('span', { id: `${id}-hint`, class: 'tl-hint' }, hint));
    return wrap;
  }
  function field(
    name: DraftField,
    id: string,
    label: string,
    control: HTMLInputElement | HTMLTextAreaElement,
    hint?: string,
  ): HTMLElement {
    const wrap = labelled(id, label, control, hint);
    const error = h('span', { id: `${id}-error`, class: 'tl-error' });
    control.setAttribute('aria-describedby', [hint ? `${id}-hint` : '', error.id].filter(Boolean).join(' '));
    controls.set(name, control);
    errors.set(name, error);
    wrap.append(error);
    return wrap;
  }
  const text = (max: number, attrs: Record<string, string> = {}) =>
    h('input', { type: 'text', maxlength: String(max), required: '', ...attrs });

  const atInput = text(12, { inputmode: 'decimal', autocomplete: 'off' });
  const secondsInput = h('input', { type: 'number', min: '1', step: 'any', value: '30', required: '' });
  const common = h('div', { class: 'tl-row' });
  const secondsField = field('seconds', 'timeline-seconds', 'Shown for (seconds)', secondsInput);
  common.append(
    labelled('timeline-kind', 'What to place', kindSelect),
    field('at', 'timeline-at', 'At (m:ss)', atInput, 'e.g. 1:30'),
    secondsField,
  );

  const groups: Record<Kind, HTMLFieldSetElement> = {
    cta: h('fieldset', { class: 'tl-group' }),
    poll: h('fieldset', { class: 'tl-group' }),
    chat: h('fieldset', { class: 'tl-group' }),
  };
  groups.cta.append(
    h('legend', {}, 'Call-to-action'),
    field('headline', 'timeline-headline', 'Headline', text(LIMITS.headline)),
    field('buttonLabel', 'timeline-button-label', 'Button label', text(LIMITS.buttonLabel)),
    field(
      'url',
      'timeline-url',
      'Link',
      h('input', { type: 'url', maxlength: String(LIMITS.url), required: '', placeholder: 'https://' }),
      'https:// only',
    ),
  );
  const optionInputs = Array.from({ length: LIMITS.maxOptions }, (_, i) =>
    h('input', {
      type: 'text',
      id: `timeline-option-${i + 1}`,
      maxlength: String(LIMITS.option),
      'aria-describedby': 'timeline-options-error',
      ...(i < LIMITS.minOptions ? { required: '' } : {}),
    }),
  );
  const options = h('fieldset', { class: 'tl-options' });
  options.append(h('legend', {}, 'Options (2 to 6; leave the rest empty)'));
  optionInputs.forEach((input, i) => {
    const label = h('label', { for: input.id }, `Option ${i + 1}`);
    label.append(input);
    options.append(label);
  });
  const optionsError = h('span', { id: 'timeline-options-error', class: 'tl-error' });
  options.append(optionsError);
  errors.set('options', optionsError);
  controls.set('options', optionInputs[0]!);
  groups.poll.append(
    h('legend', {}, 'Poll'),
    field('question', 'timeline-question', 'Question', text(LIMITS.question)),
    options,
  );
  groups.chat.append(
    h('legend', {}, 'Chat message'),
    field('author', 'timeline-author', 'Author', text(LIMITS.author)),
    field(
      'text',
      'timeline-text',
      'Message',
      h('textarea', { rows: '2', maxlength: String(LIMITS.text), required: '' }),
    ),
  );

  const submit = h('button', { type: 'submit', id: 'timeline-place' });
  const cancel = h('button', { type: 'button', id: 'timeline-cancel' }, 'Cancel editing');
  cancel.hidden = true;
  const buttons = h('div', { class: 'tl-row' });
  buttons.append(submit, cancel);
  form.append(formTitle, common, groups.cta, groups.poll, groups.chat, buttons);

  // ---- the list and saving
  const listTitle = h('h3', { id: 'timeline-list-title', tabindex: '-1' }, 'Placed');
  const list = h('ol', { id: 'timeline-items', 'aria-labelledby': 'timeline-list-title' });
  const empty = h('p', { class: 'tl-note' }, 'Nothing placed yet.');
  const saveRow = h('div', { class: 'tl-row tl-save' });
  const saveButton = h('button', { type: 'button', id: 'timeline-save' }, 'Save interactions');
  const discardButton = h('button', { type: 'button', id: 'timeline-discard' }, 'Discard changes');
  const state = h('span', { id: 'timeline-state' });
  saveRow.append(saveButton, discardButton, state);
  const status = h('p', { id: 'timeline-status', role: 'status' });
  const alert = h('p', { id: 'timeline-alert', role: 'alert', class: 'tl-error' });

  panel.append(
    intro,
    stage,
    track,
    legend,
    scrubLabel,
    scrubber,
    scrubHint,
    form,
    listTitle,
    list,
    empty,
    saveRow,
    status,
    alert,
  );

  // ---- time: one place moves the scrubber, the field, the playhead and the preview
  let preview: Preview | undefined;
  function previewProblem(problem: string): void {
    previewNote.textContent = problem;
    previewNote.hidden = false;
    playButton.hidden = true;
    preview = undefined;
    video.hidden = true;
    still.hidden = !tiles.length;
    drawStill();
  }
  async function startPreview(): Promise<void> {
    if (!preview) {
      const createPreview = await loadRecordingPlayer();
      preview = createPreview(video, playback.master, previewProblem);
      still.hidden = true;
      video.hidden = false;
      preview.seek(at);
    }
    await video.play();
  }

  function setTime(seconds: number, from: 'scrubber' | 'field' | 'video' | 'other'): void {
    at = roundTime(Math.min(duration, Math.max(0, seconds)));
    if (from !== 'scrubber') scrubber.value = String(at);
    scrubber.setAttribute('aria-valuetext', `${formatTime(at)} of ${formatTime(duration)}`);
    if (from !== 'field') atInput.value = formatTime(at);
    clearProblem('at');
    clock.textContent = `${formatTime(at)} / ${formatTime(duration)}`;
    playhead.style.left = `${(at / duration) * 100}%`;
    if (from !== 'video') preview?.seek(at);
    if (!still.hidden) drawStill();
    updateTitles();
  }

  scrubber.addEventListener('input', () => setTime(Number(scrubber.value), 'scrubber'));
  scrubber.addEventListener('keydown', (e) => {
    const steps: Record<string, number> = {
      ArrowLeft: e.shiftKey ? -0.1 : -1,
      ArrowDown: e.shiftKey ? -0.1 : -1,
      ArrowRight: e.shiftKey ? 0.1 : 1,
      ArrowUp: e.shiftKey ? 0.1 : 1,
      PageDown: -10,
      PageUp: 10,
    };
    const step = steps[e.key];
    if (step === undefined) return;
    e.preventDefault();
    setTime(at + step, 'other');
  });
  atInput.addEventListener('input', () => {
    const seconds = parseTime(atInput.value);
    if (seconds !== undefined && seconds <= duration) setTime(seconds, 'field');
  });
  atInput.addEventListener('change', () => {
    const seconds = parseTime(atInput.value);
    if (seconds === undefined) showProblems([{ field: 'at', message: 'Give a time such as 1:30.' }], false);
    else if (seconds > duration)
      showProblems([{ field: 'at', message: `The recording is ${formatTime(duration)} long.` }], false);
    else setTime(seconds, 'other');
  });
  playButton.addEventListener('click', () => {
    if (!preview || video.paused) {
      startPreview().catch((err: unknown) => {
        previewNote.textContent = `The preview did not start: ${String(err)}`;
        previewNote.hidden = false;
      });
    } else video.pause();
  });
  video.addEventListener('play', () => (playButton.textContent = 'Pause preview'));
  // Pausing picks the moment the preview stopped at (timeupdate comes only every ~250 ms).
  video.addEventListener('pause', () => {
    playButton.textContent = 'Play preview';
    setTime(video.currentTime, 'video');
  });
  video.addEventListener('timeupdate', () => {
    if (!video.paused && !video.seeking) setTime(video.currentTime, 'video');
  });

  // Pointer on the strip: pick a time; on a marker: edit that item (the list does both by keyboard).
  const timeAtPointer = (e: PointerEvent) => {
    const rect = track.getBoundingClientRect();
    return ((e.clientX - rect.left) / rect.width) * duration;
  };
  track.addEventListener('pointerdown', (e) => {
    const marker = (e.target as HTMLElement).closest<HTMLElement>('.tl-marker');
    if (marker?.dataset.kind && marker.dataset.id)
      return edit(marker.dataset.kind as Kind, marker.dataset.id);
    track.setPointerCapture(e.pointerId);
    setTime(timeAtPointer(e), 'other');
  });
  track.addEventListener('pointermove', (e) => {
    if (track.hasPointerCapture(e.pointerId)) setTime(timeAtPointer(e), 'other');
  });

  // ---- storyboard
  const images = new Map<string, HTMLImageElement>();
  function image(url: string): HTMLImageElement {
    let img = images.get(url);
    if (!img) {
      img = new Image();
      img.addEventListener('load', () => {
        drawStrip();
        drawStill();
      });
      img.src = url;
      images.set(url, img);
    }
    return img;
  }
  function drawTile(ctx: CanvasRenderingContext2D, tile: StoryboardTile, x: number, w: number, hgt: number) {
    const img = image(tile.url);
    if (img.complete && img.naturalWidth) ctx.drawImage(img, tile.x, tile.y, tile.w, tile.h, x, 0, w, hgt);
  }
  function drawStrip(): void {
    const width = track.clientWidth;
    if (!width || !tiles.length) return;
    const ratio = window.devicePixelRatio || 1;
    strip.width = Math.round(width * ratio);
    strip.height = Math.round(STRIP_HEIGHT * ratio);
    const ctx = strip.getContext('2d');
    if (!ctx) return;
    ctx.scale(ratio, ratio);
    const first = tiles[0]!;
    // As many stills as fit at about their own shape, each exactly over the time it shows.
    const count = Math.max(1, Math.round(width / (STRIP_HEIGHT * (first.w / first.h))));
    const slot = width / count;
    spreadTiles(tiles, count, duration).forEach((tile, i) =>
      drawTile(ctx, tile, i * slot, slot, STRIP_HEIGHT),
    );
  }
  function drawStill(): void {
    const tile = tileAt(tiles, at);
    if (still.hidden || !tile) return;
    still.width = tile.w;
    still.height = tile.h;
    const ctx = still.getContext('2d');
    if (ctx) drawTile(ctx, tile, 0, tile.w, tile.h);
  }
  if (playback.storyboard) {
    const vttUrl = playback.storyboard;
    void fetch(vttUrl)
      .then(async (r) => (r.ok ? parseStoryboardVtt(await r.text(), vttUrl) : []))
      .then(
        (parsed) => {
          tiles = parsed;
          track.dataset.stills = String(tiles.length);
          // Until the preview plays, the still at the picked time stands for the picture.
          if (!preview && tiles.length) {
            video.hidden = true;
            still.hidden = false;
          }
          drawStrip();
          drawStill();
        },
        (err: unknown) => console.warn('storyboard not loaded', err),
      );
  }
  new ResizeObserver(() => drawStrip()).observe(track);

  // ---- the form
  function readDraft(): Draft {
    const kind = kindSelect.value as Kind;
    const value = (f: DraftField) => controls.get(f)!.value;
    const time = parseTime(atInput.value) ?? Number.NaN;
    if (kind === 'cta')
      return {
        kind,
        at: time,
        seconds: Number(secondsInput.value),
        headline: value('headline'),
        buttonLabel: value('buttonLabel'),
        url: value('url'),
      };
    if (kind === 'poll')
      return {
        kind,
        at: time,
        seconds: Number(secondsInput.value),
        question: value('question'),
        options: optionInputs.map((i) => i.value),
      };
    return { kind, at: time, author: value('author'), text: value('text') };
  }

  function fillForm(d: Draft): void {
    kindSelect.value = d.kind;
    if (d.kind !== 'chat') secondsInput.value = String(d.seconds);
    if (d.kind === 'cta') {
      controls.get('headline')!.value = d.headline;
      controls.get('buttonLabel')!.value = d.buttonLabel;
      controls.get('url')!.value = d.url;
    } else if (d.kind === 'poll') {
      controls.get('question')!.value = d.question;
      optionInputs.forEach((input, i) => (input.value = d.options[i] ?? ''));
    } else {
      controls.get('author')!.value = d.author;
      controls.get('text')!.value = d.text;
    }
    setTime(d.at, 'other');
  }

  function clearForm(): void {
    for (const name of ['headline', 'buttonLabel', 'url', 'question', 'text'] as const)
      controls.get(name)!.value = '';
    for (const input of optionInputs) input.value = '';
    // The author usually stays the same from one scripted message to the next.
  }

  function clearProblem(name: DraftField): void {
    errors.get(name)!.textContent = '';
    const control = name === 'options' ? optionInputs : [controls.get(name)!];
    for (const c of control) c.removeAttribute('aria-invalid');
  }

  function showProblems(problems: DraftProblem[], focus = true): void {
    for (const name of errors.keys()) clearProblem(name);
    for (const p of problems) {
      errors.get(p.field)!.textContent = p.message;
      controls.get(p.field)!.setAttribute('aria-invalid', 'true');
    }
    if (focus && problems[0]) controls.get(problems[0].field)!.focus();
  }

  function showKind(): void {
    const kind = kindSelect.value as Kind;
    for (const k of KINDS) groups[k].hidden = k !== kind;
    secondsField.hidden = kind === 'chat';
    updateTitles();
  }

  function updateTitles(): void {
    const kind = kindSelect.value as Kind;
    const name = KIND_NAMES[kind].toLowerCase();
    formTitle.textContent = editing ? `Edit the ${name}` : `Place at ${formatTime(at)}`;
    submit.textContent = editing ? `Update the ${name}` : `Place ${name} at ${formatTime(at)}`;
  }

  function edit(kind: Kind, id: string): void {
    const d = draftOf(work, kind, id);
    if (!d) return;
    editing = { kind, id };
    showProblems([], false);
    fillForm(d);
    kindSelect.disabled = true;
    cancel.hidden = false;
    showKind();
    render();
    controls.get(kind === 'cta' ? 'headline' : kind === 'poll' ? 'question' : 'author')!.focus();
  }

  function stopEditing(): void {
    editing = undefined;
    kindSelect.disabled = false;
    cancel.hidden = true;
    clearForm();
    showProblems([], false);
    showKind();
    render();
  }

  kindSelect.addEventListener('change', () => {
    showProblems([], false);
    showKind();
  });
  cancel.addEventListener('click', () => {
    const was = editing;
    stopEditing();
    focusItem(was);
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const draft = readDraft();
    const problems = checkDraft(draft, duration);
    if (problems.length) return showProblems(problems);
    const id = editing?.id ?? newItemId(draft.kind, new Set([...idsOf(work), ...idsOf(saved)]), randomPart);
    const was = editing;
    work = placeDraft(work, draft, id);
    say(`${KIND_NAMES[draft.kind]} ${was ? 'updated' : 'placed'} at ${formatTime(draft.at)}.${toSave()}`);
    if (was) {
      stopEditing();
      focusItem(was);
    } else {
      clearForm();
      showProblems([], false);
      render();
    }
  });

  // ---- list, markers, saving
  function itemText(item: TimelineItem): string {
    return `${KIND_NAMES[item.kind].toLowerCase()} at ${formatTime(item.at)}: ${item.summary}`;
  }

  function render(): void {
    const items = timelineItems(work);
    list.replaceChildren();
    lanes.replaceChildren();
    for (const item of items) {
      const current = editing?.kind === item.kind && editing.id === item.id;
      const li = h('li', { class: `tl-item tl-${item.kind}${current ? ' tl-editing' : ''}` });
      li.dataset.kind = item.kind;
      li.dataset.id = item.id;
      const when = item.end === null ? formatTime(item.at) : `${formatTime(item.at)}–${formatTime(item.end)}`;
      const editButton = h(
        'button',
        { type: 'button', class: 'tl-edit', 'aria-label': `Edit the ${itemText(item)}` },
        'Edit',
      );
      const deleteButton = h(
        'button',
        { type: 'button', class: 'tl-delete', 'aria-label': `Delete the ${itemText(item)}` },
        'Delete',
      );
      editButton.addEventListener('click', () => edit(item.kind, item.id));
      deleteButton.addEventListener('click', () => remove(item));
      li.append(
        h('span', { class: 'tl-when' }, when),
        h('span', { class: 'tl-kind' }, KIND_NAMES[item.kind]),
        h('span', { class: 'tl-summary' }, item.summary),
      );
      if (current) li.append(h('span', { class: 'tl-badge' }, 'being edited'));
      li.append(editButton, deleteButton);
      list.append(li);

      const marker = h('div', { class: `tl-marker tl-${item.kind}`, title: itemText(item) });
      marker.dataset.kind = item.kind;
      marker.dataset.id = item.id;
      marker.style.left = `${(Math.min(item.at, duration) / duration) * 100}%`;
      if (item.end !== null)
        marker.style.width = `${((Math.min(item.end, duration) - Math.min(item.at, duration)) / duration) * 100}%`;
      lanes.append(marker);
    }
    empty.hidden = items.length > 0;
    const dirty = !sameInteractions(work, saved);
    saveButton.disabled = !dirty;
    discardButton.disabled = !dirty;
    state.textContent = dirty ? 'Unsaved changes.' : 'Everything is saved.';
    listTitle.textContent = `Placed (${items.length})`;
  }

  function focusItem(which: { kind: Kind; id: string } | undefined): void {
    const li =
      which &&
      list.querySelector<HTMLElement>(`li[data-kind="${which.kind}"][data-id="${CSS.escape(which.id)}"]`);
    (li?.querySelector<HTMLElement>('.tl-edit') ?? listTitle).focus();
  }

  function remove(item: TimelineItem): void {
    const items = timelineItems(work);
    const next = items[items.findIndex((i) => i.kind === item.kind && i.id === item.id) + 1];
    work = removeItem(work, item.kind, item.id);
    if (editing?.kind === item.kind && editing.id === item.id) stopEditing();
    else render();
    say(`Deleted the ${itemText(item)}.${toSave()}`);
    focusItem(next);
  }

  /** Deleting what was never saved leaves nothing to save. */
  function toSave(): string {
    return sameInteractions(work, saved) ? '' : ' Save to publish the change.';
  }

  function say(message: string): void {
    alert.textContent = '';
    status.textContent = message;
  }

  async function save(): Promise<void> {
    const sent = sortInteractions(work);
    saveButton.disabled = true;
    const response = await api(`/api/events/${encodeURIComponent(event.id)}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ interactions: sent }),
    });
    const body = (await response.json().catch(() => ({}))) as {
      interactions?: unknown;
      error?: { message?: string; details?: { field: string; message: string }[] };
    };
    if (response.ok) {
      saved = sortInteractions(interactionsFrom(body.interactions));
      // Whatever was placed meanwhile stays a change to save.
      if (sameInteractions(work, sent)) work = saved;
      render();
      say('Saved. Sessions and replays show these interactions from now on.');
      return;
    }
    render();
    status.textContent = '';
    alert.textContent = `Not saved: ${body.error?.message ?? `the server answered ${response.status}.`}`;
    // Open the item the server refused, with its field marked.
    const detail = body.error?.details?.[0];
    const problem = detail && serverProblemOf(detail.field, sent);
    if (detail && problem?.kind && problem.id && draftOf(work, problem.kind, problem.id)) {
      edit(problem.kind, problem.id);
      if (problem.field) showProblems([{ field: problem.field, message: detail.message }]);
    }
  }
  saveButton.addEventListener('click', () => {
    void save().catch((err: unknown) => {
      render();
      alert.textContent = `Not saved: ${String(err)}`;
    });
  });
  discardButton.addEventListener('click', () => {
    work = saved;
    if (editing) stopEditing();
    else render();
    say('Changes discarded.');
  });
  addEventListener('beforeunload', (e) => {
    if (!sameInteractions(work, saved)) e.preventDefault();
  });

  setTime(0, 'other');
  showKind();
  render();
}

function randomPart(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => (b % 36).toString(36)).join('');
}

const TIMELINE_CSS = `
#timeline-panel .tl-stage { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
#timeline-panel .tl-video, #timeline-panel .tl-still { width: 320px; max-width: 100%; aspect-ratio: 16 / 9; background: #111; }
#timeline-panel .tl-preview-controls { display: flex; flex-direction: column; gap: 8px; align-items: flex-start; }
#timeline-panel .tl-clock, #timeline-panel .tl-when { font-variant-numeric: tabular-nums; }
#timeline-panel .tl-track { position: relative; margin-top: 12px; cursor: pointer; user-select: none; touch-action: none; }
#timeline-panel .tl-strip { display: block; width: 100%; height: ${STRIP_HEIGHT}px; background: #2b2b2b; }
#timeline-panel .tl-lanes { position: relative; height: 38px; background: #ecece8; }
#timeline-panel .tl-marker { position: absolute; height: 10px; min-width: 6px; border-radius: 3px; }
#timeline-panel .tl-lanes .tl-cta { top: 2px; }
#timeline-panel .tl-lanes .tl-poll { top: 14px; }
#timeline-panel .tl-lanes .tl-chat { top: 26px; width: 6px; margin-left: -3px; }
#timeline-panel .tl-marker.tl-cta, #timeline-panel .tl-swatch.tl-cta { background: #1a56db; }
#timeline-panel .tl-marker.tl-poll, #timeline-panel .tl-swatch.tl-poll { background: #7e22ce; }
#timeline-panel .tl-marker.tl-chat, #timeline-panel .tl-swatch.tl-chat { background: #15803d; }
#timeline-panel .tl-swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px; vertical-align: middle; margin-left: 8px; }
#timeline-panel .tl-playhead { position: absolute; top: 0; bottom: 0; width: 2px; margin-left: -1px; background: #c00; pointer-events: none; }
#timeline-panel .tl-legend { margin: 4px 0 8px; font-size: 0.9rem; }
#timeline-panel #timeline-scrubber { display: block; width: 100%; margin: 4px 0; }
#timeline-panel .tl-hint, #timeline-panel .tl-note { font-size: 0.85rem; color: #4a4a4a; }
#timeline-panel .tl-field { display: flex; flex-direction: column; gap: 4px; font-size: 0.9rem; }
#timeline-panel .tl-error { color: #a40000; font-size: 0.9rem; }
#timeline-panel .tl-error:empty { display: none; }
#timeline-panel form { background: #fff; padding: 12px; border: 1px solid #e3e3e0; }
#timeline-panel .tl-row, #timeline-panel .tl-group, #timeline-panel .tl-options { display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-start; flex-basis: 100%; }
#timeline-panel .tl-group, #timeline-panel .tl-options { border: 1px solid #d6d6d2; padding: 8px; margin: 0; }
#timeline-panel input[type='url'], #timeline-panel input[type='number'], #timeline-panel select, #timeline-panel textarea { padding: 6px; font: inherit; }
#timeline-panel input[type='url'], #timeline-panel textarea { min-width: 320px; max-width: 100%; }
#timeline-panel #timeline-at, #timeline-panel .tl-options input { min-width: 0; width: 9em; }
#timeline-panel [aria-invalid='true'] { outline: 2px solid #a40000; }
#timeline-panel #timeline-items { padding-left: 0; list-style: none; background: #fff; }
#timeline-panel .tl-item { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; padding: 6px 8px; border-bottom: 1px solid #e3e3e0; border-left: 4px solid transparent; }
#timeline-panel .tl-item.tl-cta { border-left-color: #1a56db; }
#timeline-panel .tl-item.tl-poll { border-left-color: #7e22ce; }
#timeline-panel .tl-item.tl-chat { border-left-color: #15803d; }
#timeline-panel .tl-item.tl-editing { background: #fff3cd; }
#timeline-panel .tl-kind { font-weight: 600; }
#timeline-panel .tl-summary { flex: 1; min-width: 12em; overflow-wrap: anywhere; }
#timeline-panel .tl-save { align-items: center; margin-top: 8px; }
`;
