/**
 * Every timestamp onair stores is UTC ISO-8601 text as `Date.prototype.toISOString()` writes it
 * (`2026-11-25T09:00:00.000Z`): one fixed width and one offset, so text order is time order on
 * SQLite and PostgreSQL alike and `<`/`>=` in SQL compare instants. The API accepts offsets
 * (`2026-11-25T10:00:00+01:00`); they are normalised with this before they are stored or compared.
 */
export function utcIso(text: string): string {
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) throw new RangeError(`not a timestamp: ${JSON.stringify(text)}`);
  return new Date(ms).toISOString();
}

/** `utcIso` for a nullable column. */
export function utcIsoOrNull(text: string | null): string | null {
  return text === null ? null : utcIso(text);
}
