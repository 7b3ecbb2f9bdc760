import { sql, type Expression, type SqlBool } from 'kysely';

/**
 * LIKE's two wildcards (`%`, `_`) and its escape character (`\`) taken literally: each is preceded
 * by `\`, the escape character every query built with `containsText` names (`ESCAPE '\'`, which
 * SQLite and PostgreSQL read the same way; PostgreSQL with standard_conforming_strings, its default
 * since 9.1, reads `'\'` as one backslash).
 */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** The LIKE pattern of "contains `text`", lower-cased (compared with `lower(column)`). */
export function containsPattern(text: string): string {
  return `%${escapeLike(text.toLowerCase())}%`;
}

/**
 * `column` contains `text`, case-insensitively on both databases: PostgreSQL's LIKE is
 * case-sensitive (ILIKE is its own), so both sides are lower-cased. SQLite's `lower()` and LIKE fold
 * ASCII letters only (without the ICU extension): there, `É` does not find `é`.
 */
export function containsText(column: string, text: string): Expression<SqlBool> {
  return sql<SqlBool>`lower(${sql.ref(column)}) like ${containsPattern(text)} escape '\\'`;
}
