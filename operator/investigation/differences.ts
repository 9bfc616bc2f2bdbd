import { figureDefinitions, figureIds, type FigureDifference, type FigureId, type GroupFigure } from '../../api/v1alpha1/figures.js';

/*
 * Which differences between groups stand out beyond the spread inside them (docs/comparison.md).
 * A group stands out above another on a figure when, with at least `minNodes` nodes giving the
 * figure in each group, every node of the first gave more than every node of the second (the
 * ranges do not overlap), and the medians differ by at least the figure's minDifference and by
 * at least `minRatio`. One node out of many can never make its group stand out: it cannot lift
 * the group's minimum.
 */
export const differenceRule = { minNodes: 2, minRatio: 1.2, maxListed: 32 };

export interface GroupFigures {
  value: string;
  figures: readonly GroupFigure[];
}

/** A figure rounded for people: three significant digits. */
export function roundFigure(value: number): number {
  return value === 0 ? 0 : Number(value.toPrecision(3));
}

/** "median 12 ms (10–14 ms, 3 nodes)". */
export function describeFigure(figure: GroupFigure, unit: string): string {
  const range = figure.min === figure.max ? `${figure.min}` : `${figure.min}–${figure.max}`;
  return `median ${figure.median} ${unit} (${range} ${unit}, ${figure.nodes} nodes)`;
}

/** The differences that stand out, by figure (in definition order), then largest ratio first; at most maxListed. */
export function figureDifferences(groups: readonly GroupFigures[]): FigureDifference[] {
  const found: { order: number; ratio: number; difference: FigureDifference }[] = [];
  for (const [order, id] of figureIds.entries()) {
    const definition = figureDefinitions[id as FigureId];
    const members = groups
      .map((g) => ({ value: g.value, figure: g.figures.find((f) => f.name === id) }))
      .filter((g): g is { value: string; figure: GroupFigure } => g.figure !== undefined && g.figure.nodes >= differenceRule.minNodes);
    for (const high of members) {
      for (const low of members) {
        const a = high.figure;
        const b = low.figure;
        if (a.min <= b.max) continue;
        if (a.median - b.median < definition.minDifference || a.median < differenceRule.minRatio * b.median) continue;
        found.push({
          order,
          ratio: b.median > 0 ? a.median / b.median : Number.POSITIVE_INFINITY,
          difference: {
            figure: id,
            higher: high.value,
            lower: low.value,
            statement: `${id}: every node of ${high.value} gave more than every node of ${low.value}: ${describeFigure(a, definition.unit)} against ${describeFigure(b, definition.unit)}`,
          },
        });
      }
    }
  }
  return found
    .sort(
      (x, y) =>
        x.order - y.order ||
        (y.ratio === x.ratio ? 0 : y.ratio > x.ratio ? 1 : -1) ||
        x.difference.higher.localeCompare(y.difference.higher) ||
        x.difference.lower.localeCompare(y.difference.lower),
    )
    .slice(0, differenceRule.maxListed)
    .map((f) => f.difference);
}
