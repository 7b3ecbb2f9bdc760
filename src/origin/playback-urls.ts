import { signedPath, type TokenScope } from './tokens.ts';

/** Builds signed playback URLs; one expiry per call so a page's URLs share it (and cache together). */
export class PlaybackUrls {
  constructor(
    private readonly secret: string,
    private readonly ttlSeconds: number,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Expiry rounded up to the next minute: URLs issued in the same minute are identical (CDN-friendly). */
  expiresAt(capMs?: number): number {
    const natural = Math.ceil((this.now() / 1000 + this.ttlSeconds) / 60) * 60;
    return capMs !== undefined ? Math.min(natural, Math.floor(capMs / 1000)) : natural;
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
