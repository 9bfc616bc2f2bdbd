/**
 * A copy of `text` that holds on to no larger string. V8 keeps a substring (slice, split, a
 * regexp group) as a view of the string it came from, so one line kept from a 128 KiB read of the
 * kernel log keeps the whole read alive. For substrings that outlive the text they come from.
 */
export function ownString(text: string): string {
  return Buffer.from(text, 'utf16le').toString('utf16le');
}
