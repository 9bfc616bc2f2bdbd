import { describe, expect, it } from 'vitest';
import { ownString } from '../../lib/own-string.js';

describe('ownString', () => {
  it('copies any string exactly, also characters outside the BMP and lone surrogates', () => {
    for (const text of ['', 'a', 'ksbr0: port 2(ks0v3) entered disabled state', 'überfüllt ✓ 𝄞', 'broken \ud800 pair', '\udc00']) {
      expect(ownString(text)).toBe(text);
    }
  });

  it('copies a line out of a long text', () => {
    const text = `${'x'.repeat(100_000)}\nthe line to keep\n`;
    expect(ownString(text.split('\n')[1]!)).toBe('the line to keep');
  });
});
