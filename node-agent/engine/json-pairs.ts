/**
 * A JSON object with its keys in order and duplicate keys kept. bpftrace prints one key per map
 * entry, and entries keyed by ksym()/usym() of different addresses in one function print the same
 * name twice: JSON.parse would silently keep only the last.
 */
export class JsonPairs {
  constructor(readonly pairs: [string, JsonValue][]) {}

  /** The first value under `key`. */
  get(key: string): JsonValue | undefined {
    return this.pairs.find(([k]) => k === key)?.[1];
  }

  keys(): string[] {
    return this.pairs.map(([k]) => k);
  }
}

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonPairs;

const escapes: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** Parses one JSON text; objects become JsonPairs. Throws a SyntaxError naming the offset. */
export function parseJsonPairs(text: string): JsonValue {
  let i = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at offset ${i}`);
  };
  const skipSpace = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  };
  const expect = (char: string): void => {
    skipSpace();
    if (text[i] !== char) fail(`expected "${char}"`);
    i++;
  };

  const readString = (): string => {
    expect('"');
    let out = '';
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const char = text[i++]!;
      if (char === '"') return out;
      if (char !== '\\') {
        out += char;
        continue;
      }
      const next = text[i++];
      if (next === 'u') {
        const hex = text.slice(i, i + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
        out += String.fromCharCode(parseInt(hex, 16));
        i += 4;
      } else if (next !== undefined && next in escapes) {
        out += escapes[next];
      } else {
        // bpftrace does not escape everything it prints; keep what is there.
        out += `\\${next ?? ''}`;
      }
    }
  };

  const readValue = (): JsonValue => {
    skipSpace();
    const char = text[i];
    if (char === '{') {
      i++;
      const pairs: [string, JsonValue][] = [];
      skipSpace();
      if (text[i] === '}') {
        i++;
        return new JsonPairs(pairs);
      }
      for (;;) {
        const key = readString();
        expect(':');
        pairs.push([key, readValue()]);
        skipSpace();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return new JsonPairs(pairs);
        } else fail('expected "," or "}"');
      }
    }
    if (char === '[') {
      i++;
      const items: JsonValue[] = [];
      skipSpace();
      if (text[i] === ']') {
        i++;
        return items;
      }
      for (;;) {
        items.push(readValue());
        skipSpace();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return items;
        } else fail('expected "," or "]"');
      }
    }
    if (char === '"') return readString();
    const literal = /^(?:-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null)/.exec(text.slice(i, i + 64));
    if (!literal) return fail('unexpected character');
    i += literal[0].length;
    if (literal[0] === 'true') return true;
    if (literal[0] === 'false') return false;
    if (literal[0] === 'null') return null;
    return Number(literal[0]);
  };

  const value = readValue();
  skipSpace();
  if (i !== text.length) fail('unexpected text after the value');
  return value;
}
