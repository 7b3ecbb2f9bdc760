import type { Job } from 'bullmq';
import { findAccountRow } from '../src/db/accounts.ts';
import { recordEmailSent, wasEmailSent } from '../src/db/emails.ts';
import { findInvitation } from '../src/db/users.ts';
import type { JobPayload } from '../src/queue/catalogue.ts';
import { Mailer } from '../src/services/mailer.ts';
import {
  invitationLink,
  passwordPrint,
  RESET_LINK_MINUTES,
  resetLink,
  signTeamToken,
} from '../src/team/links.ts';
import { composeInvitationMail, composeResetMail } from '../src/team/mails.ts';
import type { WorkerDeps } from './deps.ts';

/**
 * Sends an invitation or a password-reset link, signed here from the row as it is now: a
 * withdrawn invitation or a password changed meanwhile sends nothing. Recorded as sent by its job
 * id, so a retry after a crash never sends it twice.
 */
export function createSendTeamMailProcessor(deps: WorkerDeps) {
  const mailer = new Mailer(deps.config.smtpUrl, deps.config.mailFrom);

  return async function processSendTeamMail(job: Job<JobPayload<'send-team-mail'>>): Promise<void> {
    const { kind, id, expiresMs, baseUrl } = job.data;
    const log = deps.log.child({ mail: kind });
    if (!mailer.configured) {
      log.warn('a team mail was not sent: SMTP_URL is not set');
      return;
    }
    const sentId = `team-${job.id ?? `${kind}-${id}`}`;
    if (await wasEmailSent(deps.db, sentId)) return;
    if (kind === 'invitation') {
      const invitation = await findInvitation(deps.db, id);
      if (!invitation || invitation.accepted_at || Date.parse(invitation.expires_at) <= Date.now()) return;
      const account = await findAccountRow(deps.db, invitation.account_id);
      if (!account) return;
      const token = signTeamToken(
        'invite',
        invitation.account_id,
        invitation.id,
        Date.parse(invitation.expires_at),
        deps.secret,
      );
      const mail = composeInvitationMail({
        accountName: account.name,
        role: invitation.role,
        link: invitationLink(baseUrl, token),
        expiresAt: invitation.expires_at,
      });
      await mailer.send({ to: invitation.email, ...mail });
    } else {
      const user = await deps.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
      const expires = expiresMs ?? Date.now() + RESET_LINK_MINUTES * 60_000;
      if (!user || expires <= Date.now()) return;
      const token = signTeamToken(
        'reset',
        user.account_id,
        user.id,
        expires,
        deps.secret,
        passwordPrint(user.password_hash),
      );
      await mailer.send({
        to: user.email,
        ...composeResetMail({ link: resetLink(baseUrl, token), minutes: RESET_LINK_MINUTES }),
      });
    }
    await recordEmailSent(deps.db, { id: sentId, registrantId: null, kind: `team-${kind}` });
    log.info('email sent');
  };
}
