/**
 * Compose variable interpolation (compose-spec "Interpolation"): `$VAR`, `${VAR}`,
 * `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`,
 * `${VAR:+replacement}`, `${VAR+replacement}`, nested in defaults, and `$$` for a
 * literal `$`. Also reads `.env` files, whose values may interpolate earlier ones.
 */

export type Lookup = (name: string) => string | undefined;

export class InterpolationError extends Error {}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** Interpolates a value; throws InterpolationError for a missing required variable or a bad template. */
export function interpolate(text: string, lookup: Lookup): string {
  if (!text.includes('$')) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf('$', i);
    if (dollar < 0) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, dollar);
    const next = text[dollar + 1];
    if (next === '$') {
      out += '$';
      i = dollar + 2;
      continue;
    }
    if (next === '{') {
      const close = matchingBrace(text, dollar + 2);
      if (close < 0) throw new InterpolationError(`invalid interpolation format for "${text}": unterminated "\${"`);
      out += expand(text.slice(dollar + 2, close), lookup, text);
      i = close + 1;
      continue;
    }
    const name = NAME.exec(text.slice(dollar + 1))?.[0];
    if (name) {
      out += lookup(name) ?? '';
      i = dollar + 1 + name.length;
      continue;
    }
    out += '$';
    i = dollar + 1;
  }
  return out;
}

/** The index of the `}` closing a `${` whose body starts at `from` (nested `${…}` allowed). */
function matchingBrace(text: string, from: number): number {
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === '$' && text[i + 1] === '$') {
      i++;
      continue;
    }
    if (c === '$' && text[i + 1] === '{') {
      depth++;
      i++;
      continue;
    }
    if (c === '}' && --depth === 0) return i;
  }
  return -1;
}

/** Expands the body of one `${…}`. */
function expand(body: string, lookup: Lookup, whole: string): string {
  const name = NAME.exec(body)?.[0];
  if (!name) throw new InterpolationError(`invalid interpolation format for "${whole}": "\${${body}}" does not start with a variable name`);
  const rest = body.slice(name.length);
  const value = lookup(name);
  if (rest === '') return value ?? '';
  const colon = rest.startsWith(':');
  const operator = rest[colon ? 1 : 0];
  const argument = rest.slice(colon ? 2 : 1);
  // With a colon, an empty value counts as unset.
  const set = value !== undefined && (!colon || value !== '');
  switch (operator) {
    case '-':
      return set ? value! : interpolate(argument, lookup);
    case '+':
      return set ? interpolate(argument, lookup) : '';
    case '?': {
      if (set) return value!;
      const detail = interpolate(argument, lookup);
      throw new InterpolationError(`required variable ${name} is missing a value${detail ? `: ${detail}` : ''}`);
    }
    default:
      throw new InterpolationError(`invalid interpolation format for "${whole}": unknown operator in "\${${body}}"`);
  }
}

/**
 * Parses a `.env` file: `KEY=value`, `export KEY=value`, `#` comments, single quotes
 * (literal), double quotes (escapes, interpolation), unquoted values (interpolation,
 * ` #` starts a comment). `outer` is consulted for variables the file refers to.
 */
export function parseDotEnv(text: string, outer: Lookup): Map<string, string> {
  const values = new Map<string, string>();
  const lookup: Lookup = (name) => outer(name) ?? values.get(name);
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^\s*export\s+/, '').trimStart();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    if (!NAME.test(key) || NAME.exec(key)![0] !== key) continue;
    let value = line.slice(eq + 1).trimStart();
    if (value.startsWith("'")) {
      const end = value.indexOf("'", 1);
      value = value.slice(1, end < 0 ? undefined : end);
    } else if (value.startsWith('"')) {
      const end = closingDoubleQuote(value);
      value = value
        .slice(1, end < 0 ? undefined : end)
        .replace(/\\(["\\nrt])/g, (_, c: string) => (({ n: '\n', r: '\r', t: '\t' }) as Record<string, string>)[c] ?? c);
      value = safeInterpolate(value, lookup);
    } else {
      value = safeInterpolate(value.replace(/\s+#.*$/, '').trimEnd(), lookup);
    }
    values.set(key, value);
  }
  return values;
}

function closingDoubleQuote(value: string): number {
  for (let i = 1; i < value.length; i++) {
    if (value[i] === '\\') i++;
    else if (value[i] === '"') return i;
  }
  return -1;
}

/** `.env` values with a broken template are kept as written (compose reports them on use). */
function safeInterpolate(value: string, lookup: Lookup): string {
  try {
    return interpolate(value, lookup);
  } catch {
    return value;
  }
}
