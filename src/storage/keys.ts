/** The longest key S3 accepts (in UTF-8 bytes); the local adapter keeps the same limit so both agree. */
const MAX_KEY_BYTES = 1024;

/**
 * Why `key` is not a valid storage key, or undefined when it is. Keys are `/`-separated relative
 * paths: no empty segment (`a//b`, a leading or trailing `/`), no `.` or `..` segment (on disk they
 * would alias or escape the root), no control characters. Both adapters check keys (and prefixes)
 * with this one function, so a key that works on local disk works on S3 and the other way round.
 * One more rule cannot be checked here: a key must not be both an object and a folder (`a/b` and
 * `a/b/c`): S3 allows it, local disk does not.
 */
export function keyProblem(key: string): string | undefined {
  if (key === '') return 'is empty';
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) return `is longer than ${MAX_KEY_BYTES} bytes`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) return 'contains a control character';
  if (key.startsWith('/')) return 'starts with /';
  for (const segment of key.split('/')) {
    if (segment === '') return 'has an empty segment';
    if (segment === '.' || segment === '..') return `has a "${segment}" segment`;
  }
  return undefined;
}

/** Throws when `key` is not a valid storage key (see `keyProblem`). */
export function assertValidKey(key: string): void {
  const problem = keyProblem(key);
  if (problem) throw new Error(`invalid storage key ${JSON.stringify(key)}: ${problem}`);
}
