/** A small structured logger: one JSON line per event. Never pass emails, keys or tokens to it. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/**
 * A last line of defence for what callers must not log anyway: email addresses (an SMTP server's
 * rejection quotes the recipient), personal-link tokens in paths (`/me/…`, `/u/…`, `?k=…`) and
 * stream keys are masked in every line.
 */
export function redact(line: string): string {
  return line
    .replace(/[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g, '<email>')
    .replace(/\/(me|u)\/[^/\s"?]+/g, '/$1/<token>')
    .replace(/([?&]k=)[^&\s"]+/g, '$1<token>')
    .replace(/\blive_[A-Za-z0-9_-]{8,}/g, 'live_<key>');
}

export function createLogger(level: LogLevel, base: Record<string, unknown> = {}): Logger {
  const write = (l: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[l] < ORDER[level]) return;
    const line = redact(JSON.stringify({ t: new Date().toISOString(), level: l, msg, ...base, ...fields }));
    (l === 'error' || l === 'warn' ? process.stderr : process.stdout).write(line + '\n');
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger(level, { ...base, ...fields }),
  };
}
