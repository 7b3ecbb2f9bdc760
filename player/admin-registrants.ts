/**
 * The registrants panel of a webinar's page: a searchable, paged table (the server searches email,
 * name and company), the CSV export, and erasure of one registrant on their request (GDPR art. 17)
 * after a confirmation. Everything is a real control: a labelled search field in a form, buttons,
 * a table with a caption and column headers.
 */
import type { AdminEvent } from './admin-event.ts';
import { formatSeconds, formatUtc, type RegistrantView } from './admin-data.ts';
import { el, errorOf } from './admin-dom.ts';
import { api } from './admin-session.ts';

const PAGE_SIZE = 25;

const yesNo = (value: boolean) => (value ? 'Yes' : 'No');

export function mountRegistrants(event: AdminEvent, panel: HTMLElement): void {
  const base = `/api/events/${encodeURIComponent(event.id)}`;
  const search = el('input', {
    type: 'search',
    id: 'registrants-q',
    name: 'q',
    maxLength: 100,
    autocomplete: 'off',
  });
  const form = el(
    'form',
    { id: 'registrants-search', role: 'search' },
    el('label', { htmlFor: 'registrants-q' }, 'Search by email, name or company', search),
    el('button', { type: 'submit' }, 'Search'),
  );
  form.setAttribute('aria-label', 'Search registrants');
  const exportLink = el('a', { href: `${base}/registrants.csv`, className: 'button' }, 'Export all as CSV');
  exportLink.setAttribute('download', '');
  const status = el('p', { id: 'registrants-status', tabIndex: -1 });
  status.setAttribute('role', 'status');
  const caption = el('caption', {}, 'Registrants');
  const headers = [
    'Email',
    'Name',
    'Company',
    'Registered',
    'Marketing consent',
    'Restricted',
    'Erased',
    'Watched',
    'Actions',
  ];
  const tbody = el('tbody');
  const table = el(
    'table',
    { id: 'registrants-table' },
    caption,
    el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { scope: 'col' }, h)))),
    tbody,
  );
  // Keyboard users scroll a table wider than the screen too (axe: scrollable-region-focusable).
  const scroller = el('div', { className: 'table-scroll', tabIndex: 0 }, table);
  scroller.setAttribute('role', 'region');
  scroller.setAttribute('aria-label', 'Registrants table');
  const previous = el('button', { type: 'button', disabled: true }, 'Previous page');
  const next = el('button', { type: 'button', disabled: true }, 'Next page');
  const pager = el('nav', { className: 'pager' }, previous, ' ', next);
  pager.setAttribute('aria-label', 'Registrant pages');
  panel.append(form, el('p', {}, exportLink), status, scroller, pager);

  let query = '';
  let offset = 0;
  const run = (task: () => Promise<void>) =>
    void task().catch((err: unknown) => {
      status.textContent = String(err);
    });

  function row(r: RegistrantView): HTMLTableRowElement {
    const erased = r.anonymisedAt !== null;
    const actions = el('td');
    if (!erased) {
      const erase = el('button', { type: 'button', className: 'danger' }, 'Erase');
      const who = r.email ?? r.id;
      erase.setAttribute('aria-label', `Erase ${who}`);
      erase.addEventListener('click', () => run(() => eraseOne(r, who)));
      actions.append(erase);
    }
    const tr = el(
      'tr',
      {},
      el('td', {}, r.email ?? '—'),
      el('td', {}, r.name ?? '—'),
      el('td', {}, r.company ?? '—'),
      el('td', {}, formatUtc(r.registeredAt)),
      el('td', {}, yesNo(r.marketingConsent)),
      el('td', {}, yesNo(r.restricted)),
      el('td', {}, erased ? `Yes, ${formatUtc(r.anonymisedAt!)}` : 'No'),
      el('td', {}, formatSeconds(r.secondsWatched)),
      actions,
    );
    tr.dataset.registrantId = r.id;
    if (erased) tr.classList.add('erased');
    return tr;
  }

  async function load(): Promise<void> {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(offset) });
    if (query) params.set('q', query);
    panel.setAttribute('aria-busy', 'true');
    try {
      const response = await api(`${base}/registrants?${params.toString()}`);
      if (!response.ok) {
        status.textContent = await errorOf(response);
        return;
      }
      const page = (await response.json()) as { registrants: RegistrantView[]; next: number | null };
      tbody.replaceChildren(...page.registrants.map(row));
      if (page.registrants.length === 0) {
        tbody.append(
          el(
            'tr',
            {},
            el(
              'td',
              { colSpan: headers.length },
              query ? `Nobody matches “${query}”.` : 'Nobody has registered yet.',
            ),
          ),
        );
      }
      const first = page.registrants.length ? offset + 1 : 0;
      const range = `${first}–${offset + page.registrants.length}`;
      caption.textContent = query
        ? `Registrants matching “${query}”, ${range}`
        : `Registrants, ${range} in order of registration`;
      previous.disabled = offset === 0;
      next.disabled = page.next === null;
    } finally {
      panel.removeAttribute('aria-busy');
    }
  }

  async function eraseOne(r: RegistrantView, who: string): Promise<void> {
    if (
      !window.confirm(
        `Erase ${who}? Their email, name and company are removed for good; their viewing stays in the analytics, anonymously.`,
      )
    ) {
      return;
    }
    const response = await api(`${base}/registrants/${encodeURIComponent(r.id)}`, { method: 'DELETE' });
    if (!response.ok) {
      status.textContent = await errorOf(response);
      return;
    }
    await load();
    status.textContent = `${who} was erased.`;
    // The row's button is gone: focus goes to the message saying what happened.
    status.focus();
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    query = search.value.trim();
    offset = 0;
    run(async () => {
      await load();
      status.textContent = query ? `Showing registrants matching “${query}”.` : 'Showing all registrants.';
    });
  });
  previous.addEventListener('click', () => {
    offset = Math.max(0, offset - PAGE_SIZE);
    run(load);
  });
  next.addEventListener('click', () => {
    offset += PAGE_SIZE;
    run(load);
  });
  run(load);
}
