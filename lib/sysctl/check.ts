import type { AllowedSysctl, AllowList } from './allowlist.js';
import { matchesPattern } from './allowlist.js';
import { normaliseSysctlValue } from './value.js';

export type SysctlCheck =
  /** value is the canonical form to write and compare: decimal integers, single spaces. */
  { ok: true; value: string; entry: AllowedSysctl } | { ok: false; reason: string };

/**
 * Whether a sysctl may be set to a value. Pure: the agent, the operator and an admission policy
 * all call it. A refusal names the key and what the allow-list permits.
 */
export function checkSysctl(allowList: AllowList, name: string, value: string): SysctlCheck {
  const entry = allowList.sysctls.get(name);
  if (!entry) return { ok: false, reason: notAllowed(allowList, name) };
  const normalised = normaliseSysctlValue(value);
  const shown = `${name}=${normalised}`;
  switch (entry.type) {
    case 'integer': {
      const number = parseInteger(normalised);
      if (number === undefined) return { ok: false, reason: `${shown} is not an integer; allowed range ${entry.min}..${entry.max}` };
      if (number < BigInt(entry.min) || number > BigInt(entry.max)) return { ok: false, reason: `${shown} is out of range ${entry.min}..${entry.max}` };
      return { ok: true, value: number.toString(), entry };
    }
    case 'tuple': {
      const parts = normalised === '' ? [] : normalised.split(' ');
      if (parts.length !== entry.fields.length) {
        return { ok: false, reason: `${shown} must be ${entry.fields.length} integers separated by blanks: ${describeAllowed(entry)}` };
      }
      const numbers: bigint[] = [];
      for (const [i, field] of entry.fields.entries()) {
        const number = parseInteger(parts[i]!);
        if (number === undefined) return { ok: false, reason: `${shown}: ${field.name}=${parts[i]} is not an integer; allowed ${describeAllowed(entry)}` };
        if (number < BigInt(field.min) || number > BigInt(field.max)) {
          return { ok: false, reason: `${shown}: ${field.name}=${parts[i]} is out of range ${field.min}..${field.max}` };
        }
        numbers.push(number);
      }
      if (entry.ascending && numbers.some((n, i) => i > 0 && n < numbers[i - 1]!)) {
        return { ok: false, reason: `${shown}: the values must not decrease (${entry.fields.map((f) => f.name).join(' <= ')})` };
      }
      return { ok: true, value: numbers.join(' '), entry };
    }
    case 'enum':
      if (!entry.values.includes(normalised)) return { ok: false, reason: `${shown} is not one of ${entry.values.join(', ')}` };
      return { ok: true, value: normalised, entry };
  }
}

/** What an entry permits, for messages and docs: "0..200", "one of reno, cubic", "min 4096..16777216 <= default ...". */
export function describeAllowed(entry: AllowedSysctl): string {
  switch (entry.type) {
    case 'integer':
      return `${entry.min}..${entry.max}`;
    case 'tuple':
      return entry.fields.map((f) => `${f.name} ${f.min}..${f.max}`).join(entry.ascending ? ' <= ' : ', ');
    case 'enum':
      return `one of ${entry.values.join(', ')}`;
  }
}

function notAllowed(allowList: AllowList, name: string): string {
  const where = allowList.sources.join(' and ');
  const denied = allowList.denied.find((d) => matchesPattern(d.pattern, name));
  const because = denied ? ` (${name} is never allowed: ${denied.why.charAt(0).toLowerCase()}${denied.why.slice(1).replace(/\.$/, '')})` : '';
  return `${name} is not in the sysctl allow-list; allowed keys are listed in ${where}${because}`;
}

/** Decimal integers only: the kernel reads "010" as octal, so a leading zero is dropped before writing. */
function parseInteger(text: string): bigint | undefined {
  return /^-?\d{1,20}$/.test(text) ? BigInt(text) : undefined;
}
