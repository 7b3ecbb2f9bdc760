/** The owner's team page: members and their roles, invitations, and API keys for automation. */
import { api, session, type Role } from './admin-session.ts';

interface Member {
  id: string;
  email: string;
  name: string;
  role: Role;
  eventIds?: string[];
}
interface Invitation {
  id: string;
  email: string;
  role: Role;
  expiresAt: string;
}
interface ApiKey {
  id: string;
  label: string;
  createdAt: string;
  lastUsedAt: string | null;
}

const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;
const ROLES: Role[] = ['owner', 'manager', 'presenter'];

function say(text: string): void {
  $('#team-message').textContent = text;
}

async function complain(response: Response): Promise<void> {
  const body = (await response.json().catch(() => ({}))) as { error?: { message?: string } };
  say(body.error?.message ?? `Failed (${response.status}).`);
}

function send(path: string, method: string, body?: unknown): Promise<Response> {
  return api(path, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
}

function button(text: string, label: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}

function row(body: HTMLTableSectionElement, cells: (string | Node)[]): void {
  const tr = body.insertRow();
  for (const c of cells) {
    const td = tr.insertCell();
    // textContent, never innerHTML: names and emails are user input.
    if (typeof c === 'string') td.textContent = c;
    else td.append(c);
  }
}

/** The events a presenter may be given, for the invitation form (id → title). */
let eventTitles = new Map<string, string>();

export function setTeamEvents(events: { id: string; title: string; type: string }[]): void {
  const live = events.filter((e) => e.type === 'live');
  const fresh = new Map(live.map((e) => [e.id, e.title]));
  if ([...fresh].join() === [...eventTitles].join()) return;
  eventTitles = fresh;
  const box = $('#invite-events');
  const checked = new Set([...box.querySelectorAll<HTMLInputElement>('input:checked')].map((i) => i.value));
  box.replaceChildren(
    ...[...fresh].map(([id, title]) => {
      const label = document.createElement('label');
      const input = document.createElement('input');
      input.type = 'checkbox';
      input.value = id;
      input.checked = checked.has(id);
      label.append(input, ` ${title}`);
      return label;
    }),
  );
}

export async function refreshTeam(): Promise<void> {
  if (session()?.role !== 'owner') return;
  const [team, keys] = await Promise.all([api('/api/team'), api('/api/keys')]);
  if (!team.ok || !keys.ok) return;
  const { members, invitations } = (await team.json()) as { members: Member[]; invitations: Invitation[] };
  const members$ = $<HTMLTableSectionElement>('#members');
  members$.replaceChildren();
  for (const m of members) {
    const select = document.createElement('select');
    select.setAttribute('aria-label', `Role of ${m.email}`);
    for (const r of ROLES) select.add(new Option(r, r, false, r === m.role));
    select.addEventListener('change', () => {
      void send(`/api/team/members/${m.id}`, 'PATCH', { role: select.value }).then(async (r) => {
        if (!r.ok) await complain(r);
        await refreshTeam();
      });
    });
    const events = (m.eventIds ?? []).map((id) => eventTitles.get(id) ?? id).join(', ');
    row(members$, [
      m.name,
      m.email,
      select,
      events,
      m.id === session()?.user.id
        ? ''
        : button('Remove', `Remove ${m.email}`, () => {
            if (!confirm(`Remove ${m.email} from the team?`)) return;
            void send(`/api/team/members/${m.id}`, 'DELETE').then(async (r) => {
              if (!r.ok) await complain(r);
              await refreshTeam();
            });
          }),
    ]);
  }
  const invitations$ = $<HTMLTableSectionElement>('#invitations');
  invitations$.replaceChildren();
  for (const i of invitations) {
    row(invitations$, [
      i.email,
      i.role,
      new Date(i.expiresAt).toLocaleString(),
      button('Withdraw', `Withdraw the invitation of ${i.email}`, () => {
        void send(`/api/team/invitations/${i.id}`, 'DELETE').then(() => refreshTeam());
      }),
    ]);
  }
  const keys$ = $<HTMLTableSectionElement>('#keys');
  keys$.replaceChildren();
  for (const k of ((await keys.json()) as { keys: ApiKey[] }).keys) {
    row(keys$, [
      k.label,
      new Date(k.createdAt).toLocaleString(),
      k.lastUsedAt ? new Date(k.lastUsedAt).toLocaleString() : 'never',
      button('Revoke', `Revoke the key ${k.label}`, () => {
        if (!confirm(`Revoke the key "${k.label}"? Whatever uses it stops working.`)) return;
        void send(`/api/keys/${k.id}`, 'DELETE').then(() => refreshTeam());
      }),
    ]);
  }
}

export function startTeam(): void {
  if (session()?.role !== 'owner') return;
  $('#team').hidden = false;
  $('#invite-role').addEventListener('change', () => {
    $('#invite-events-field').hidden = $<HTMLSelectElement>('#invite-role').value !== 'presenter';
  });
  $('#invite-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const role = $<HTMLSelectElement>('#invite-role').value;
    const eventIds =
      role === 'presenter'
        ? [...document.querySelectorAll<HTMLInputElement>('#invite-events input:checked')].map((i) => i.value)
        : [];
    const email = $<HTMLInputElement>('#invite-email').value.trim();
    void send('/api/team/invitations', 'POST', { email, role, eventIds }).then(async (r) => {
      if (!r.ok) return complain(r);
      say(`Invitation sent to ${email}.`);
      $<HTMLFormElement>('#invite-form').reset();
      $('#invite-events-field').hidden = true;
      await refreshTeam();
    });
  });
  $('#key-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const label = $<HTMLInputElement>('#key-label').value.trim();
    void send('/api/keys', 'POST', { label }).then(async (r) => {
      if (!r.ok) return complain(r);
      const made = (await r.json()) as { key: string };
      const shown = $<HTMLInputElement>('#new-key');
      shown.value = made.key;
      $('#new-key-field').hidden = false;
      say('Copy the new key now: it is shown only once.');
      $<HTMLFormElement>('#key-form').reset();
      await refreshTeam();
    });
  });
  void refreshTeam();
}
