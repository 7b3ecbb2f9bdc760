import { loadPageText, type PageText } from './i18n.ts';

/**
 * Self-service data page behind a signed link: download, correct, restrict, withdraw marketing
 * consent, delete. Every change is recorded by the server in the registrant's history.
 */
const base = location.pathname.replace(/\/$/, '');
const $ = <T extends HTMLElement = HTMLElement>(selector: string) => document.querySelector<T>(selector)!;

interface Status {
  event: { title: string; webinarId: string };
  email: string | null;
  name: string | null;
  company: string | null;
  fields: { name: 'off' | 'optional' | 'required'; company: 'off' | 'optional' | 'required' };
  marketingConsent: boolean;
  restricted: boolean;
  erased: boolean;
}

let restricted = false;

async function refresh({ t }: PageText): Promise<void> {
  const response = await fetch(`${base}/status.json`);
  if (!response.ok) {
    $('#summary').textContent = t('me.invalidLink');
    return;
  }
  const s = (await response.json()) as Status;
  restricted = s.restricted;
  const title = s.event.title;
  // textContent: names and emails are viewer input and must render as text, never as markup.
  const person = `${s.name ? `${s.name} ` : ''}<${s.email ?? ''}>${s.company ? ` (${s.company})` : ''}`;
  const marketing = s.marketingConsent && !s.restricted ? 'yes' : 'no';
  $('#summary').textContent = s.erased
    ? t('me.erased', { title })
    : `${t('me.summary', { title, person, marketing })}${s.restricted ? ` ${t('me.restricted')}` : ''}`;
  const form = $<HTMLFormElement>('#rectify');
  form.hidden = s.erased || (s.fields.name === 'off' && s.fields.company === 'off' && !s.name && !s.company);
  $('#name-row').hidden = s.fields.name === 'off' && !s.name;
  $('#company-row').hidden = s.fields.company === 'off' && !s.company;
  $<HTMLInputElement>('#name').value = s.name ?? '';
  $<HTMLInputElement>('#company').value = s.company ?? '';
  $<HTMLButtonElement>('#withdraw').disabled = s.erased || !s.marketingConsent;
  const restrict = $<HTMLButtonElement>('#restrict');
  restrict.disabled = s.erased;
  restrict.setAttribute('aria-pressed', String(s.restricted));
  restrict.textContent = t(s.restricted ? 'me.lift' : 'me.restrict');
  $<HTMLButtonElement>('#delete').disabled = s.erased;
}

async function post(text: PageText, action: string, body: unknown, done: string): Promise<void> {
  const response = await fetch(`${base}/${action}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (response.ok) $('#state').textContent = done;
  else {
    const error = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
    $('#state').textContent = error?.error?.message ?? text.t('me.failed');
  }
  await refresh(text);
}

function start(text: PageText): void {
  const { t } = text;
  $<HTMLAnchorElement>('#csv').href = `${base}/data.csv`;
  $<HTMLAnchorElement>('#json').href = `${base}/data.json`;
  $<HTMLFormElement>('#rectify').addEventListener('submit', (e) => {
    e.preventDefault();
    const body: Record<string, string> = {};
    if (!$('#name-row').hidden) body.name = $<HTMLInputElement>('#name').value;
    if (!$('#company-row').hidden) body.company = $<HTMLInputElement>('#company').value;
    void post(text, 'rectify', body, t('me.saved'));
  });
  $('#withdraw').addEventListener('click', () => {
    void post(text, 'withdraw', {}, t('me.withdrawn'));
  });
  $('#restrict').addEventListener('click', () => {
    void post(
      text,
      'restrict',
      { restricted: !restricted },
      t(restricted ? 'me.lifted' : 'me.restrictedDone'),
    );
  });
  $('#delete').addEventListener('click', () => {
    if (!confirm(t('me.confirmDelete'))) return;
    void post(text, 'delete', {}, t('me.deleted'));
  });
  void refresh(text);
}

void loadPageText().then(start);
