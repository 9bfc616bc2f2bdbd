/** Bounds that keep the parent small however many nodes take part. */
export const limits = {
  /** Findings listed in the parent (the rest are counted in findingCount). */
  findings: 64,
  /** Nodes named as examples of a finding. */
  exampleNodes: 5,
  /** Evidence lines of a merged finding: the first example node gives up to evidenceFromFirstNode, the others one each. */
  evidenceLines: 6,
  evidenceFromFirstNode: 3,
  /** Characters of one evidence line, its node name included. */
  evidenceChars: 256,
  /** Owners of the pods a merged finding names, most pods first. */
  podOwners: 10,
  /** Comparison groups listed (the rest are counted in otherGroups). */
  groups: 64,
  /** Nodes named in the Complete condition's message when some timed out. */
  timedOutExamples: 3,
};
