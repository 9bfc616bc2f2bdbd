/**
 * A sysctl value in the one form used for comparing, storing and reporting: blanks trimmed and
 * every run of whitespace made a single space. The kernel prints tuples with tabs
 * ("4096\t131072\t6291456") and a trailing newline; users write them with spaces.
 */
export function normaliseSysctlValue(raw: string): string {
  return raw.trim().split(/\s+/).join(' ');
}
