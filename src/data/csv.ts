// A small CSV parser for the A2D / JHMDB text files (comma separated, double-quoted fields with ""
// escapes, as pandas.read_csv reads them by default).

/** Splits CSV text into rows of fields; blank lines are skipped. Returns the 1-based line of each row too. */
export function parseCsv(text: string): { fields: string[]; line: number }[] {
  const rows: { fields: string[]; line: number }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  let rowHasContent = false;
  const endRow = () => {
    fields.push(field);
    if (rowHasContent) rows.push({ fields, line: rowLine });
    fields = [];
    field = '';
    rowHasContent = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && field.length === 0) {
      quoted = true;
      rowHasContent = true;
    } else if (c === ',') {
      fields.push(field);
      field = '';
      rowHasContent = true;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRow();
      line++;
      rowLine = line;
    } else {
      field += c;
      if (c.trim().length > 0) rowHasContent = true;
    }
  }
  endRow();
  return rows;
}
