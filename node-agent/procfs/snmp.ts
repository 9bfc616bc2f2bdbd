/**
 * /proc/net/snmp and /proc/net/netstat: pairs of lines, "Tcp: Name1 Name2 ..." then
 * "Tcp: 1 2 ...". Returns counters by section and name. Pure.
 */
export function parseSnmp(text: string): Record<string, Record<string, number>> {
  const sections: Record<string, Record<string, number>> = {};
  const lines = text.split('\n').filter((l) => l.includes(':'));
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const [section, ...names] = lines[i]!.trim().split(/\s+/);
    const [valueSection, ...values] = lines[i + 1]!.trim().split(/\s+/);
    if (!section || section !== valueSection) continue;
    const counters = (sections[section.replace(/:$/, '')] ??= {});
    names.forEach((name, j) => {
      const value = Number(values[j]);
      if (Number.isFinite(value)) counters[name] = value;
    });
  }
  return sections;
}
