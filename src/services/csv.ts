/**
 * RFC 4180 CSV: CRLF line ends; a field with a comma, quote, CR or LF is quoted with quotes
 * doubled. Cells a spreadsheet would run as a formula (=, +, -, @, tab, CR first) get a leading
 * apostrophe (OWASP "CSV injection"): viewer-typed names must stay text. A field with a semicolon
 * is quoted too: spreadsheets in locales whose separator is `;` would otherwise split it and run
 * what follows (`x;=1+1`) as a cell of its own.
 */
export function csvField(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",;\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const line = (cells: readonly unknown[]) => cells.map((c) => csvField(c as string)).join(',');
  return [line(header), ...rows.map(line)].join('\r\n') + '\r\n';
}
