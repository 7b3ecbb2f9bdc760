import { createTransport, type Transporter } from 'nodemailer';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** RFC 8058 one-click unsubscribe (HTTPS in production); none for account mails (invitations, resets). */
  unsubscribeUrl?: string;
  invite?: string;
}

/** SMTP through nodemailer, from SMTP_URL; a no-op (reporting so) when none is configured. */
export class Mailer {
  #transport: Transporter | undefined;

  constructor(
    private readonly smtpUrl: string | undefined,
    private readonly from: string,
  ) {}

  get configured(): boolean {
    return Boolean(this.smtpUrl);
  }

  async send(mail: OutgoingMail): Promise<void> {
    if (!this.smtpUrl) throw new Error('SMTP_URL is not set');
    this.#transport ??= createTransport(this.smtpUrl);
    await this.#transport.sendMail({
      from: this.from,
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      ...(mail.unsubscribeUrl
        ? {
            headers: {
              'List-Unsubscribe': `<${mail.unsubscribeUrl}>`,
              'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
            },
          }
        : {}),
      ...(mail.invite
        ? { icalEvent: { filename: 'invite.ics', method: 'PUBLISH', content: mail.invite } }
        : {}),
    });
  }

  close(): void {
    this.#transport?.close();
  }
}
