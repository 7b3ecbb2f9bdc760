import crypto from 'node:crypto';

/**
 * An event's SRT passphrase (AES encryption of the stream between the encoder and onair), derived
 * rather than stored: bound to its purpose, the event and its current stream key, under the
 * deployment's secret. Rotating the stream key changes it; the database never holds it.
 * 32 characters of base64url: within SRT's 10–79, and about 190 bits.
 */
export function srtPassphrase(secret: string, eventId: string, streamKey: string): string {
  return crypto
    .createHmac('sha256', secret)
    .update(`srt-passphrase|${eventId}|${streamKey}`)
    .digest('base64url')
    .slice(0, 32);
}
