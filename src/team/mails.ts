import type { Role } from '../db/schema.ts';

export interface TeamMail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

const ROLE_WORDS: Record<Role, string> = {
  owner: 'an owner (everything, including the team and API keys)',
  manager: 'a manager (webinars, recordings and registrants)',
  presenter: 'a presenter (your events’ stream settings and the presenter page)',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function composeInvitationMail(input: {
  accountName: string;
  role: Role;
  link: string;
  expiresAt: string;
}): TeamMail {
  const until = new Date(input.expiresAt).toUTCString();
  const lines = [
    `You are invited to join ${input.accountName} on onair as ${ROLE_WORDS[input.role]}.`,
    '',
    `Choose your password here (the link works until ${until}):`,
    input.link,
    '',
    'If you did not expect this, ignore this mail: nothing happens without you.',
  ];
  return {
    subject: `Join ${input.accountName} on onair`,
    text: lines.join('\n'),
    html: `<p>You are invited to join <strong>${escapeHtml(input.accountName)}</strong> on onair as ${escapeHtml(ROLE_WORDS[input.role])}.</p><p><a href="${escapeHtml(input.link)}">Choose your password</a> (the link works until ${escapeHtml(until)}).</p><p>If you did not expect this, ignore this mail: nothing happens without you.</p>`,
  };
}

export function composeResetMail(input: { link: string; minutes: number }): TeamMail {
  const lines = [
    'Someone (we hope you) asked to reset your onair password.',
    '',
    `Choose a new password here (the link works for ${input.minutes} minutes, once):`,
    input.link,
    '',
    'If it was not you, ignore this mail: your password stays as it is.',
  ];
  return {
    subject: 'Reset your onair password',
    text: lines.join('\n'),
    html: `<p>Someone (we hope you) asked to reset your onair password.</p><p><a href="${escapeHtml(input.link)}">Choose a new password</a> (the link works for ${input.minutes} minutes, once).</p><p>If it was not you, ignore this mail: your password stays as it is.</p>`,
  };
}
