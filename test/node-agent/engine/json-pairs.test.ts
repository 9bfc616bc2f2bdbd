import { describe, expect, it } from 'vitest';
import { type JsonPairs, parseJsonPairs } from '../../../node-agent/engine/json-pairs.js';

describe('parseJsonPairs', () => {
  it('keeps duplicate keys in order, where JSON.parse keeps only the last', () => {
    const text = '{"@sites": {"compute_scc": 1, "bpf_check": 2, "compute_scc": 3}}';
    const value = parseJsonPairs(text) as JsonPairs;
    const sites = value.get('@sites') as JsonPairs;
    expect(sites.pairs).toEqual([
      ['compute_scc', 1],
      ['bpf_check', 2],
      ['compute_scc', 3],
    ]);
    expect(Object.keys((JSON.parse(text) as { '@sites': object })['@sites'])).toHaveLength(2);
  });

  it('reads arrays, nested objects, literals, negative and large numbers, and escapes', () => {
    const value = parseJsonPairs('{"a": [1, -2.5, 1e3, true, false, null, "x\\"y\\u0041\\n"], "b": {}, "c": 18446744073208166178}') as JsonPairs;
    expect(value.get('a')).toEqual([1, -2.5, 1000, true, false, null, 'x"yA\n']);
    expect((value.get('b') as JsonPairs).pairs).toEqual([]);
    expect(value.get('c')).toBeGreaterThan(2 ** 63);
  });

  it('keeps an escape it does not know instead of failing (bpftrace does not escape everything)', () => {
    expect(parseJsonPairs('"a\\qb"')).toBe('a\\qb');
  });

  it('says where malformed input breaks', () => {
    expect(() => parseJsonPairs('{"a": [1, 2}')).toThrow(/expected "," or "\]" at offset 11/);
    expect(() => parseJsonPairs('{"a": 1} x')).toThrow(/unexpected text after the value/);
    expect(() => parseJsonPairs('{"a": "cut')).toThrow(/unterminated string/);
  });
});
