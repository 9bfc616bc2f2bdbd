/**
 * Kubernetes resource quantities ("100m", "1.5", "512Mi", "1G", "2e3") as numbers of base units
 * (cores, bytes), to compare a container's requests and limits with a cap.
 */

const suffixes: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const quantityPattern = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$/;

/** The value of a quantity in base units; throws, saying how one is written, when it is not one. */
export function parseQuantity(text: string | number): number {
  if (typeof text === 'number') return text;
  const match = quantityPattern.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a quantity: write a number with an optional suffix, as "500m", "2", "256Mi" or "1G"`);
  const [, number, exponent, suffix] = match;
  return Number(number) * (exponent ? 10 ** Number(exponent.slice(1)) : suffixes[suffix ?? '']!);
}
