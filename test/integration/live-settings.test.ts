import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCall } from '../helpers/api.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/** A live event's own settings through the events API (no stream needed: no ingest, no worker). */
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ INGEST: 'off', WORKERS: '0' });
}, 60_000);

afterAll(async () => {
  await server?.close();
});

interface EventJson {
  id: string;
  title: string;
  live?: { lowLatency: boolean; streamKeyDisabled: boolean };
  error?: { code: string; message: string };
}

function api(method: string, url: string, body?: unknown) {
  return apiCall<EventJson>(server, method, url, body);
}

describe('low-latency HLS per live event', () => {
  it('is on by default, can be turned off, survives a partial update, and refuses a non-boolean', async () => {
    const created = await api('POST', '/api/events', { title: 'Town hall', type: 'live' });
    expect(created.status).toBe(201);
    expect(created.json.live?.lowLatency).toBe(true);
    const url = `/api/events/${created.json.id}`;

    const off = await api('PATCH', url, { lowLatency: false });
    expect(off.status).toBe(200);
    expect(off.json.live?.lowLatency).toBe(false);

    // A PATCH changes only the fields it names.
    const renamed = await api('PATCH', url, { title: 'Town hall (Q3)' });
    expect(renamed.status).toBe(200);
    expect(renamed.json.title).toBe('Town hall (Q3)');
    expect(renamed.json.live?.lowLatency).toBe(false);
    expect((await api('GET', url)).json.live?.lowLatency).toBe(false);

    const bad = await api('PATCH', url, { title: 'Not saved', lowLatency: 'yes' });
    expect(bad.status).toBe(400);
    expect(bad.json.error?.code).toBe('invalid_request');
    expect(bad.json.error?.message).toMatch(/^Invalid body: lowLatency .*expected boolean/);
    const after = await api('GET', url);
    expect(after.json.title).toBe('Town hall (Q3)');
    expect(after.json.live?.lowLatency).toBe(false);

    const on = await api('PATCH', url, { lowLatency: true });
    expect(on.json.live?.lowLatency).toBe(true);
  });

  it('can be off from creation', async () => {
    const created = await api('POST', '/api/events', {
      title: 'CDN viewers',
      type: 'live',
      lowLatency: false,
    });
    expect(created.status).toBe(201);
    expect(created.json.live?.lowLatency).toBe(false);
    expect((await api('GET', `/api/events/${created.json.id}`)).json.live?.lowLatency).toBe(false);

    const bad = await api('POST', '/api/events', { title: 'X', type: 'live', lowLatency: 1 });
    expect(bad.status).toBe(400);
    expect(bad.json.error?.message).toMatch(/^Invalid body: lowLatency .*expected boolean/);
  });

  it('is refused on events that are not live', async () => {
    const onDemand = await api('POST', '/api/events', {
      title: 'Recording',
      type: 'on_demand',
      assetId: 'as_0000000000000000',
      lowLatency: false,
    });
    expect(onDemand.status).toBe(400);
    expect(onDemand.json.error?.message).toBe('Invalid body: lowLatency applies to live events only');
  });
});
