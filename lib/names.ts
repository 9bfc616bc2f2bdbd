import { createHash } from 'node:crypto';

/** The first 8 hex digits of the SHA-256 of a text: short, deterministic names. */
export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

/**
 * Joins parts into a valid object name of at most `max` characters; when too long, keeps a
 * readable prefix and appends a hash of the whole, so the result stays deterministic and unique.
 */
export function childName(parts: string[], max = 253): string {
  const full = parts.join('-');
  if (full.length <= max) return full;
  const hash = shortHash(full);
  return `${full.slice(0, max - hash.length - 1).replace(/[-.]+$/, '')}-${hash}`;
}

/** A label value (at most 63 characters) for any name, deterministic and unique. */
export function labelValueFor(name: string): string {
  return childName([name], 63);
}
