import { signedPath, signValue, unsignValue, type TokenScope } from './tokens.ts';

/** Builds signed playback URLs; one expiry per call so a page's URLs share it (and cache together). */
export class PlaybackUrls {
  constructor(
    private readonly secret: string,
    private readonly ttlSeconds: number,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /**
   * Expiry rounded up to the next minute: URLs issued in the same minute are identical (CDN-friendly).
   * A cap (a replay's end) can only shorten it, never below 1 s after the epoch: the expiry must stay
   * a canonical token field (tokens.ts), and an already expired one is simply refused as expired.
   */
  expiresAt(capMs?: number): number {
    const natural = Math.ceil((this.now() / 1000 + this.ttlSeconds) / 60) * 60;
    if (capMs === undefined || !Number.isFinite(capMs)) return natural;
    return Math.max(1, Math.min(natural, Math.floor(capMs / 1000)));
  }

  /** A signed, expiring token for the marketer's preview page of one asset (`/play/<asset>?t=`). */
  previewToken(assetId: string, expires: number): string {
    return signValue(`play|${assetId}|${expires}`, this.secret);
  }

  checkPreviewToken(assetId: string, token: string): boolean {
    const [kind, id, expires] = unsignValue(token, this.secret)?.split('|') ?? [];
    return kind === 'play' && id === assetId && Number(expires) * 1000 > this.now();
  }

  url(
    baseUrl: string,
    scope: TokenScope,
    id: string,
    revision: string,
    file: string,
    expires: number,
  ): string {
    return `${baseUrl}${signedPath(scope, id, `${revision}/${file}`, expires, this.secret)}`;
  }
}
