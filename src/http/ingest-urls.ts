import type { Config } from '../config.ts';

/** Where presenters send their stream, as the event page and the API show it. */
export interface IngestUrls {
  /** The RTMP server URL presenters paste into OBS (the stream key goes in its own field). */
  rtmp(): string;
  /** `srt://host:port` (the streamid is added per event), or null when SRT is off. */
  srt(): string | null;
  /** The WHIP endpoint, or null when WHIP is off or this API cannot reach an ingest's. */
  whip(): string | null;
}

/** What the event view shows presenters: the URLs, and an event's SRT passphrase when it encrypts. */
export interface IngestView extends IngestUrls {
  srtPassphrase(eventId: string, streamKey: string): string;
}

/**
 * The public ingest URLs, from configuration only (never a request's Host header): each protocol's
 * *_PUBLIC_URL, or PUBLIC_URL's host with the protocol's port. WHIP defaults to PUBLIC_URL/whip,
 * which this server proxies to the ingest it runs (`npm start`); an API without one (`npm run api`)
 * needs WHIP_PUBLIC_URL.
 */
export function ingestUrls(config: Config, baseUrl: () => string): IngestUrls {
  const host = () => new URL(baseUrl()).hostname;
  const hostPort = (port: number) => (host().includes(':') ? `[${host()}]:${port}` : `${host()}:${port}`);
  return {
    rtmp() {
      if (config.rtmpPublicUrl) return config.rtmpPublicUrl;
      return `rtmp://${host()}${config.rtmpPort === 1935 ? '' : `:${config.rtmpPort}`}/live`;
    },
    srt() {
      if (!config.srt) return null;
      return config.srt.publicUrl ?? `srt://${hostPort(config.srt.port)}`;
    },
    whip() {
      if (!config.whip) return null;
      if (config.whip.publicUrl) return config.whip.publicUrl;
      return config.ingest ? `${baseUrl()}/whip/endpoint` : null;
    },
  };
}

/**
 * An event's SRT URL: the server with the stream key as streamid, and its passphrase when it
 * encrypts (OBS and ffmpeg take it whole as the server).
 */
export function srtUrlFor(server: string, streamKey: string, passphrase: string | null = null): string {
  const query = new URLSearchParams({ streamid: streamKey });
  if (passphrase) query.set('passphrase', passphrase);
  return `${server}?${query.toString()}`;
}
