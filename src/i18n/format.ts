/**
 * A small ICU MessageFormat formatter: `{name}` arguments, `{n, number}`, `{n, plural, ...}` (with
 * `=0` exact matches, `offset:` and `#`) and `{x, select, ...}`, with ICU's apostrophe quoting
 * (`''` is one apostrophe; `'{'` a literal brace; any other apostrophe is just an apostrophe).
 * Plural categories come from `Intl.PluralRules`, numbers from `Intl.NumberFormat`. No
 * dependencies and no Node imports: the server (emails, invites, server-rendered pages) and the
 * browser bundle (player/) both use it.
 */

type Part =
  | string
  | { readonly kind: 'arg'; readonly name: string; readonly number: boolean }
  | { readonly kind: 'pound' }
  | {
      readonly kind: 'plural' | 'select';
      readonly name: string;
      readonly offset: number;
      readonly options: ReadonlyMap<string, readonly Part[]>;
    };

/** A parsed message. */
type Ast = readonly Part[];

export type MessageValues = Readonly<Record<string, unknown>>;

const MAX_DEPTH = 8;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

class Parser {
  private pos = 0;
  constructor(private readonly text: string) {}

  parse(): Ast {
    const ast = this.message(0, false);
    if (this.pos < this.text.length) this.fail('unmatched }');
    return ast;
  }

  private fail(why: string): never {
    throw new SyntaxError(`message format: ${why} at ${this.pos} in ${JSON.stringify(this.text)}`);
  }

  /** Text and arguments up to an unmatched `}` (left for the caller) or the end. */
  private message(depth: number, inPlural: boolean): Part[] {
    if (depth > MAX_DEPTH) this.fail('nested too deeply');
    const parts: Part[] = [];
    let literal = '';
    const t = this.text;
    while (this.pos < t.length) {
      const c = t[this.pos]!;
      if (c === "'") {
        const next = t[this.pos + 1];
        if (next === "'") {
          literal += "'";
          this.pos += 2;
        } else if (next === '{' || next === '}' || (inPlural && next === '#')) {
          // Quoted literal text up to the next lone apostrophe.
          this.pos++;
          while (this.pos < t.length) {
            if (t[this.pos] === "'") {
              if (t[this.pos + 1] === "'") {
                literal += "'";
                this.pos += 2;
                continue;
              }
              this.pos++;
              break;
            }
            literal += t[this.pos++];
          }
        } else {
          literal += "'";
          this.pos++;
        }
      } else if (c === '{') {
        if (literal) parts.push(literal);
        literal = '';
        parts.push(this.argument(depth));
      } else if (c === '}') {
        break;
      } else if (c === '#' && inPlural) {
        if (literal) parts.push(literal);
        literal = '';
        parts.push({ kind: 'pound' });
        this.pos++;
      } else {
        literal += c;
        this.pos++;
      }
    }
    if (literal) parts.push(literal);
    return parts;
  }

  private skipSpace(): void {
    while (/\s/.test(this.text[this.pos] ?? '')) this.pos++;
  }

  /** Reads up to one of `stops` (not consuming it), trimmed. */
  private word(stops: string): string {
    const start = this.pos;
    while (this.pos < this.text.length && !stops.includes(this.text[this.pos]!)) this.pos++;
    return this.text.slice(start, this.pos).trim();
  }

  private expect(c: string): void {
    if (this.text[this.pos] !== c) this.fail(`expected ${c}`);
    this.pos++;
  }

  /** `{name}`, `{name, number}`, `{name, plural, ...}`, `{name, select, ...}`; at the `{`. */
  private argument(depth: number): Part {
    this.expect('{');
    const name = this.word(',}');
    if (!IDENTIFIER.test(name)) this.fail(`bad argument name ${JSON.stringify(name)}`);
    if (this.text[this.pos] === '}') {
      this.pos++;
      return { kind: 'arg', name, number: false };
    }
    this.expect(',');
    const type = this.word(',}');
    if (type === 'number') {
      this.expect('}');
      return { kind: 'arg', name, number: true };
    }
    if (type !== 'plural' && type !== 'select') this.fail(`unknown argument type ${JSON.stringify(type)}`);
    this.expect(',');
    let offset = 0;
    const options = new Map<string, Part[]>();
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === '}') {
        this.pos++;
        break;
      }
      const key = this.word('{}').replace(/\s+/g, ' ');
      if (type === 'plural' && key.startsWith('offset:')) {
        // `offset:1 one {...}`: the offset and the first key arrive as one word.
        const [setting = '', rest = ''] = key.split(' ');
        offset = Number(setting.slice('offset:'.length));
        if (!Number.isInteger(offset) || offset < 0) this.fail('bad plural offset');
        if (!rest) this.fail('expected a plural key after offset');
        options.set(rest, this.option(depth, true));
        continue;
      }
      if (!key || /\s/.test(key)) this.fail(`bad ${type} key ${JSON.stringify(key)}`);
      if (type === 'plural' && !/^(=\d+|zero|one|two|few|many|other)$/.test(key))
        this.fail(`bad plural key ${JSON.stringify(key)}`);
      if (options.has(key)) this.fail(`duplicate key ${key}`);
      options.set(key, this.option(depth, type === 'plural'));
    }
    if (!options.has('other')) this.fail(`${type} without an "other" case`);
    return { kind: type, name, offset, options };
  }

  /** `{...}` of a plural or select case. */
  private option(depth: number, inPlural: boolean): Part[] {
    this.skipSpace();
    this.expect('{');
    const parts = this.message(depth + 1, inPlural);
    this.expect('}');
    return parts;
  }
}

const parsed = new Map<string, Ast>();

function parse(pattern: string): Ast {
  let ast = parsed.get(pattern);
  if (!ast) {
    ast = new Parser(pattern).parse();
    // Catalogues are finite: the cache holds each of their messages once.
    if (parsed.size > 5000) parsed.clear();
    parsed.set(pattern, ast);
  }
  return ast;
}

const pluralRules = new Map<string, Intl.PluralRules>();
const numberFormats = new Map<string, Intl.NumberFormat>();

function pluralCategory(locale: string, n: number): string {
  let rules = pluralRules.get(locale);
  if (!rules) pluralRules.set(locale, (rules = new Intl.PluralRules(locale)));
  return rules.select(n);
}

function formatNumber(locale: string, n: number): string {
  let format = numberFormats.get(locale);
  if (!format) numberFormats.set(locale, (format = new Intl.NumberFormat(locale)));
  return format.format(n);
}

function render(locale: string, ast: Ast, values: MessageValues, pound: number | undefined, out: unknown[]) {
  for (const part of ast) {
    if (typeof part === 'string') out.push(part);
    else if (part.kind === 'pound') out.push(pound === undefined ? '#' : formatNumber(locale, pound));
    else if (part.kind === 'arg') {
      const value = values[part.name];
      if (value === undefined || value === null) out.push(`{${part.name}}`);
      else if (typeof value === 'number') out.push(formatNumber(locale, value));
      else if (typeof value === 'string') out.push(value);
      else out.push(value);
    } else if (part.kind === 'select') {
      const raw = values[part.name];
      const value =
        typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean'
          ? String(raw)
          : 'other';
      render(locale, part.options.get(value) ?? part.options.get('other')!, values, pound, out);
    } else {
      const n = Number(values[part.name]);
      const exact = Number.isFinite(n) ? part.options.get(`=${n}`) : undefined;
      const shifted = n - part.offset;
      const chosen =
        exact ??
        (Number.isFinite(n) ? part.options.get(pluralCategory(locale, shifted)) : undefined) ??
        part.options.get('other')!;
      render(locale, chosen, values, Number.isFinite(n) ? shifted : undefined, out);
    }
  }
}

/**
 * The message with its values, as parts: strings, and any non-string value (a DOM node, say) as
 * itself, so a link can sit inside a translated sentence. Adjacent strings are joined.
 */
export function formatToParts(locale: string, pattern: string, values: MessageValues = {}): unknown[] {
  const out: unknown[] = [];
  render(locale, parse(pattern), values, undefined, out);
  const joined: unknown[] = [];
  for (const part of out) {
    if (typeof part === 'string' && typeof joined.at(-1) === 'string')
      joined.push(`${joined.pop() as string}${part}`);
    else joined.push(part);
  }
  return joined;
}

/** The message with its values as text. A missing value shows as `{name}` (never throws for it). */
export function formatMessage(locale: string, pattern: string, values: MessageValues = {}): string {
  return formatToParts(locale, pattern, values)
    .map((p) => (typeof p === 'string' ? p : String(p)))
    .join('');
}

/** Argument names a message uses (plural and select arguments included), for catalogue checks. */
export function placeholdersOf(pattern: string): Set<string> {
  const names = new Set<string>();
  const walk = (ast: Ast) => {
    for (const part of ast) {
      if (typeof part === 'string' || part.kind === 'pound') continue;
      names.add(part.name);
      if (part.kind === 'plural' || part.kind === 'select') for (const o of part.options.values()) walk(o);
    }
  };
  walk(parse(pattern));
  return names;
}

/** The plural keys of each plural argument of a message, for catalogue checks. */
export function pluralKeysOf(pattern: string): { name: string; keys: string[] }[] {
  const found: { name: string; keys: string[] }[] = [];
  const walk = (ast: Ast) => {
    for (const part of ast) {
      if (typeof part === 'string' || part.kind === 'pound' || part.kind === 'arg') continue;
      if (part.kind === 'plural') found.push({ name: part.name, keys: [...part.options.keys()] });
      for (const o of part.options.values()) walk(o);
    }
  };
  walk(parse(pattern));
  return found;
}

/** Messages of one language, looked up by key. */
export interface Translator<K extends string = string> {
  /** The language (a BCP 47 tag, e.g. `pt-BR`). */
  readonly language: string;
  /** The message as text; an unknown key shows as itself. (Properties: safe to destructure.) */
  readonly t: (key: K, values?: MessageValues) => string;
  /** The message as parts (see `formatToParts`). */
  readonly parts: (key: K, values?: MessageValues) => unknown[];
}

export function createTranslator<K extends string>(
  language: string,
  messages: Readonly<Partial<Record<K, string>>>,
): Translator<K> {
  const pattern = (key: K) => messages[key] ?? key;
  return {
    language,
    t: (key, values) => formatMessage(language, pattern(key), values),
    parts: (key, values) => formatToParts(language, pattern(key), values),
  };
}
