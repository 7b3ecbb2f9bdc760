import http from 'node:http';
import type { RequestHandler } from 'express';

/** Request headers passed on; the rest (cookies above all) stay here. */
const FORWARDED_REQUEST = ['authorization', 'content-type', 'content-length', 'if-match', 'accept'];
/** Response headers passed back. */
const FORWARDED_RESPONSE = [
  'content-type',
  'content-length',
  'location',
  'etag',
  'link',
  'accept-patch',
  'www-authenticate',
  'access-control-allow-origin',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-expose-headers',
  'access-control-max-age',
];

/**
 * Passes requests under a mount point to a local HTTP service (the ingest's WHIP endpoint), bodies
 * streamed both ways. The service bounds its own bodies; an unreachable one is a 502 that says so.
 */
export function proxyTo(base: string): RequestHandler {
  const target = new URL(base);
  return (req, res) => {
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_REQUEST) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: `${target.pathname}${req.url === '/' ? '' : req.url}`,
        headers,
        timeout: 30_000,
      },
      (answer) => {
        const out: Record<string, string | string[]> = {};
        for (const name of FORWARDED_RESPONSE) {
          const value = answer.headers[name];
          if (value !== undefined) out[name] = value;
        }
        res.writeHead(answer.statusCode ?? 502, out);
        answer.pipe(res);
      },
    );
    upstream.on('timeout', () => upstream.destroy(new Error('timeout')));
    upstream.on('error', () => {
      if (res.headersSent) return void res.destroy();
      res
        .status(502)
        .type('text/plain')
        .send('The live ingest is not reachable from this server: try again in a moment.');
    });
    req.pipe(upstream);
  };
}
