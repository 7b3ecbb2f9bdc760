/**
 * A webinar's settings on its page: title, description, the viewers' language, the replay's end
 * and the registration gate. Saved with one PATCH naming every field it shows (the gate as a whole
 * object, so a save never leaves half of one); the server's message is shown when it refuses.
 */
import { LANGUAGE_SETTINGS } from '../src/i18n/languages.ts';
import type { AdminEvent } from './admin-event.ts';
import { api } from './admin-session.ts';

type FieldRule = 'off' | 'optional' | 'required';

const LANGUAGE_NAMES: Record<(typeof LANGUAGE_SETTINGS)[number], string> = {
  auto: "Each viewer's browser language",
  en: 'English',
  it: 'Italiano',
  de: 'Deutsch',
  fr: 'Français',
  es: 'Español',
  pl: 'Polski',
  'pt-BR': 'Português (Brasil)',
  ru: 'Русский',
};

function labelled(text: string, control: HTMLElement): HTMLLabelElement {
  const label = document.createElement('label');
  label.append(text, control);
  return label;
}

function input(
  id: string,
  type: string,
  value: string,
  attrs: Record<string, string> = {},
): HTMLInputElement {
  const el = document.createElement('input');
  el.id = id;
  el.type = type;
  el.value = value;
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

function select(id: string, options: [string, string][], value: string): HTMLSelectElement {
  const el = document.createElement('select');
  el.id = id;
  for (const [v, text] of options) el.add(new Option(text, v, false, v === value));
  return el;
}

/** `datetime-local` value of an instant, in the browser's zone ('' for none). */
function localValue(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function mountSettings(event: AdminEvent, panel: HTMLElement): void {
  const gate = event.gate;
  const form = document.createElement('form');
  form.id = 'settings-form';
  const title = input('settings-title', 'text', event.title, { required: '', maxlength: '200' });
  const description = document.createElement('textarea');
  description.id = 'settings-description';
  description.maxLength = 5000;
  description.rows = 3;
  description.value = event.description ?? '';
  const language = select(
    'settings-language',
    LANGUAGE_SETTINGS.map((code) => [code, LANGUAGE_NAMES[code]]),
    event.language,
  );
  const replay = input('settings-replay', 'datetime-local', localValue(event.replayExpiresAt));
  const gated = input('settings-gated', 'checkbox', '');
  gated.checked = gate.emailRequired;
  const rules: [string, string][] = [
    ['off', 'not asked'],
    ['optional', 'optional'],
    ['required', 'required'],
  ];
  const name = select('settings-name', rules, gate.fields.name);
  const company = select('settings-company', rules, gate.fields.company);
  const notice = input('settings-notice', 'url', gate.privacyNoticeUrl ?? '', { maxlength: '2000' });
  const version = input('settings-notice-version', 'text', gate.privacyNoticeVersion ?? '', {
    maxlength: '40',
  });
  const gateBox = document.createElement('fieldset');
  const legend = document.createElement('legend');
  legend.textContent = 'Registration';
  const gatedLabel = document.createElement('label');
  const gatedText = document.createElement('span');
  gatedText.append(gated, ' Email required to watch');
  gatedLabel.append(gatedText);
  gateBox.append(
    legend,
    gatedLabel,
    labelled('Name', name),
    labelled('Company', company),
    labelled('Privacy notice URL', notice),
    labelled('Notice version', version),
  );
  const save = document.createElement('button');
  save.textContent = 'Save settings';
  const status = document.createElement('p');
  status.id = 'settings-message';
  status.setAttribute('role', 'status');
  form.append(
    labelled('Title', title),
    labelled('Description', description),
    labelled("Viewers' language", language),
    labelled('Replay available until (empty: always)', replay),
    gateBox,
    save,
    status,
  );
  panel.append(form);

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const body = {
      title: title.value.trim(),
      description: description.value,
      language: language.value,
      replayExpiresAt: replay.value ? new Date(replay.value).toISOString() : null,
      gate: {
        emailRequired: gated.checked,
        fields: { name: name.value as FieldRule, company: company.value as FieldRule },
        privacyNoticeUrl: notice.value.trim() || null,
        privacyNoticeVersion: version.value.trim() || null,
      },
    };
    status.textContent = 'Saving…';
    void api(`/api/events/${event.id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(async (r) => {
      if (r.ok) {
        status.textContent = 'Saved.';
        document.querySelector('#event-title')!.textContent = body.title;
        return;
      }
      const answer = (await r.json().catch(() => ({}))) as { error?: { message?: string } };
      status.textContent = answer.error?.message ?? `Not saved (${r.status}).`;
    });
  });
}
