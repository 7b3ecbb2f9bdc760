/** Self-service data page behind a signed link: download, withdraw marketing consent, delete. */
const base = location.pathname.replace(/\/$/, '');
const $ = <T extends HTMLElement = HTMLElement>(selector: string) => document.querySelector<T>(selector)!;

interface Status {
  event: { title: string; webinarId: string };
  email: string | null;
  name: string | null;
  marketingConsent: boolean;
  erased: boolean;
}

async function refresh(): Promise<void> {
  const response = await fetch(`${base}/status.json`);
  if (!response.ok) {
    $('#summary').textContent = 'This link is not valid.';
    return;
  }
  const s = (await response.json()) as Status;
  $('#summary').textContent = s.erased
    ? `Your data for "${s.event.title}" has been deleted.`
    : // textContent: names and emails are viewer input and must render as text, never as markup.
      `You registered for "${s.event.title}" as ${s.name ? `${s.name} ` : ''}<${s.email ?? ''}>. Marketing emails: ${s.marketingConsent ? 'yes' : 'no'}.`;
  $<HTMLButtonElement>('#withdraw').disabled = s.erased || !s.marketingConsent;
  $<HTMLButtonElement>('#delete').disabled = s.erased;
}

$<HTMLAnchorElement>('#csv').href = `${base}/data.csv`;
$<HTMLAnchorElement>('#json').href = `${base}/data.json`;
$('#withdraw').addEventListener('click', () => {
  void fetch(`${base}/withdraw`, { method: 'POST' }).then(() => {
    $('#state').textContent = 'Done: you will get no marketing emails.';
    return refresh();
  });
});
$('#delete').addEventListener('click', () => {
  if (!confirm('Delete your data? You will need to register again to watch.')) return;
  void fetch(`${base}/delete`, { method: 'POST' }).then(() => {
    $('#state').textContent = 'Your data has been deleted.';
    return refresh();
  });
});
void refresh();
