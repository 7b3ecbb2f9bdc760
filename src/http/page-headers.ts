import type { RequestHandler } from 'express';

/**
 * Security headers of onair's HTML pages. The Content-Security-Policy allows no inline script or
 * style (every page loads `/player/*.js` and `/player/base.css`), so a value that slipped into a
 * page as markup still cannot run. Media, images and API calls go to this origin and to the
 * public base URL the playback links use; hls.js runs its transmuxer in a blob: worker.
 *
 * Viewer pages are meant to be embedded (`embeddable`: any site may frame them, as the embed
 * snippet promises); the admin and data pages must never be framed (clickjacking).
 */
export function pageSecurityHeaders(
  publicUrl: () => string,
  framing: 'embeddable' | 'never-framed',
  /** Further origins the page may connect to (the presenter page: a WHIP endpoint elsewhere). */
  connect: () => readonly (string | null)[] = () => [],
): RequestHandler {
  return (_req, res, next) => {
    const own = new URL(publicUrl()).origin;
    const others = connect()
      .flatMap((url) => (url ? [` ${new URL(url).origin}`] : []))
      .join('');
    const csp = [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      `img-src 'self' data: blob: ${own}`,
      `media-src 'self' blob: ${own}`,
      `connect-src 'self' ${own}${others}`,
      "worker-src 'self' blob:",
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'self'",
      `frame-ancestors ${framing === 'embeddable' ? '*' : "'none'"}`,
    ].join('; ');
    res.set('Content-Security-Policy', csp);
    res.set('X-Content-Type-Options', 'nosniff');
    res.set('Referrer-Policy', 'strict-origin-when-cross-origin');
    // X-Frame-Options has no "allow all" value (ALLOWALL is ignored): embeddable pages send none.
    if (framing === 'never-framed') res.set('X-Frame-Options', 'DENY');
    next();
  };
}
