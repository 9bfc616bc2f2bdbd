import { describe, expect, it } from 'vitest';
import { parseQuantity } from '../../lib/quantity.js';

describe('parseQuantity', () => {
  it.each([
    ['100m', 0.1],
    ['1', 1],
    ['1.5', 1.5],
    ['.5', 0.5],
    ['512Mi', 512 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['1G', 1e9],
    ['128k', 128_000],
    ['2e3', 2000],
    ['250u', 0.00025],
  ])('%s is %d base units', (text, value) => {
    expect(parseQuantity(text)).toBeCloseTo(value, 9);
  });

  it('refuses what is not a quantity, saying how one is written', () => {
    for (const bad of ['', 'lots', '1 Gi', '1gi', '1.5.2', 'Mi']) expect(() => parseQuantity(bad), bad).toThrow(/is not a quantity: write a number/);
  });
});
