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

async function refresh(): Promise<void> {
  const response = await fetch(`${base}/status.json`);
  if (!response.ok) {
    $('#summary').textContent = 'This link is not valid.';
    return;
  }
  const s = (await response.json()) as Status;
  restricted = s.restricted;
  $('#summary').textContent = s.erased
    ? `Your data for "${s.event.title}" has been deleted.`
    : // textContent: names and emails are viewer input and must render as text, never as markup.
      `You registered for "${s.event.title}" as ${s.name ? `${s.name} ` : ''}<${s.email ?? ''}>${s.company ? ` (${s.company})` : ''}. Marketing emails: ${s.marketingConsent && !s.restricted ? 'yes' : 'no'}.${s.restricted ? ' Use of your data is restricted.' : ''}`;
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
  restrict.textContent = s.restricted ? 'Lift the restriction' : 'Restrict use of my data';
  $<HTMLButtonElement>('#delete').disabled = s.erased;
}

async function post(action: string, body: unknown, done: string): Promise<void> {
  const response = await fetch(`${base}/${action}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (response.ok) $('#state').textContent = done;
  else {
    const error = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
    $('#state').textContent = error?.error?.message ?? 'That did not work; try again.';
  }
  await refresh();
}

$<HTMLAnchorElement>('#csv').href = `${base}/data.csv`;
$<HTMLAnchorElement>('#json').href = `${base}/data.json`;
$<HTMLFormElement>('#rectify').addEventListener('submit', (e) => {
  e.preventDefault();
  const body: Record<string, string> = {};
  if (!$('#name-row').hidden) body.name = $<HTMLInputElement>('#name').value;
  if (!$('#company-row').hidden) body.company = $<HTMLInputElement>('#company').value;
  void post('rectify', body, 'Saved: your details are corrected.');
});
$('#withdraw').addEventListener('click', () => {
  void post('withdraw', {}, 'Done: you will get no marketing emails.');
});
$('#restrict').addEventListener('click', () => {
  void post(
    'restrict',
    { restricted: !restricted },
    restricted
      ? 'The restriction is lifted.'
      : 'Done: your data is kept but no longer used for marketing or statistics.',
  );
});
$('#delete').addEventListener('click', () => {
  if (!confirm('Delete your data? You will need to register again to watch.')) return;
  void post('delete', {}, 'Your data has been deleted.');
});
void refresh();
