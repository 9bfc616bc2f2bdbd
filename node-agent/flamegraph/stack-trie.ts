/**
 * Distinct stacks as paths in a trie of interned frame ids. Adding a sample costs one probe of
 * an integer hash table per frame; no string is built until the stacks are read at the end.
 * Memory grows with the number of distinct stack prefixes, never with the number of samples.
 */
export class StackTrie {
  /** Open-addressing table (parent, frame) -> child; `slotChild` -1 marks an empty slot. */
  private slotParent = new Int32Array(1 << 12);
  private slotFrame = new Int32Array(1 << 12);
  private slotChild = new Int32Array(1 << 12).fill(-1);
  private used = 0;

  /** Per node: its parent, its frame and the weight of samples that end there. Node 0 is the root. */
  private parentOf = new Int32Array(1 << 12);
  private frameOf = new Int32Array(1 << 12);
  private weightOf = new Float64Array(1 << 12);
  /** 1 where a sample ended: a stack shows even when its weights add up to 0 ("00" periods). */
  private ended = new Uint8Array(1 << 12);
  /** Weights past 2^53, kept exact as Perl's 64-bit integers would. */
  private readonly bigWeights = new Map<number, bigint>();
  private nodes = 1;

  static readonly root = 0;

  /** The node for `frame` under `parent`, made when new. */
  child(parent: number, frame: number): number {
    const mask = this.slotChild.length - 1;
    let slot = (Math.imul(parent, 0x9e3779b1) ^ Math.imul(frame, 0x85ebca6b)) & mask;
    for (;;) {
      const child = this.slotChild[slot]!;
      if (child < 0) break;
      if (this.slotParent[slot] === parent && this.slotFrame[slot] === frame) return child;
      slot = (slot + 1) & mask;
    }
    const node = this.newNode(parent, frame);
    this.slotParent[slot] = parent;
    this.slotFrame[slot] = frame;
    this.slotChild[slot] = node;
    if (++this.used * 2 > this.slotChild.length) this.growTable();
    return node;
  }

  add(node: number, weight: number | bigint): void {
    this.ended[node] = 1;
    if (typeof weight === 'number') {
      const sum = this.weightOf[node]! + weight;
      if (sum <= Number.MAX_SAFE_INTEGER && !this.bigWeights.has(node)) {
        this.weightOf[node] = sum;
        return;
      }
    }
    const sum = (this.bigWeights.get(node) ?? BigInt(this.weightOf[node]!)) + BigInt(weight);
    this.bigWeights.set(node, sum);
  }

  /** Every node with weight, as its frames root first and the weight. */
  *weighted(): Generator<{ frames: number[]; weight: number | bigint }> {
    for (let node = 1; node < this.nodes; node++) {
      if (this.ended[node] === 0) continue;
      const frames: number[] = [];
      for (let n = node; n !== StackTrie.root; n = this.parentOf[n]!) frames.push(this.frameOf[n]!);
      frames.reverse();
      yield { frames, weight: this.bigWeights.get(node) ?? this.weightOf[node]! };
    }
  }

  private newNode(parent: number, frame: number): number {
    if (this.nodes === this.parentOf.length) {
      const size = this.nodes * 2;
      this.parentOf = grow(this.parentOf, new Int32Array(size));
      this.frameOf = grow(this.frameOf, new Int32Array(size));
      this.weightOf = grow(this.weightOf, new Float64Array(size));
      this.ended = grow(this.ended, new Uint8Array(size));
    }
    const node = this.nodes++;
    this.parentOf[node] = parent;
    this.frameOf[node] = frame;
    return node;
  }

  private growTable(): void {
    const parents = this.slotParent;
    const frames = this.slotFrame;
    const children = this.slotChild;
    const size = children.length * 2;
    this.slotParent = new Int32Array(size);
    this.slotFrame = new Int32Array(size);
    this.slotChild = new Int32Array(size).fill(-1);
    const mask = size - 1;
    for (let i = 0; i < children.length; i++) {
      const child = children[i]!;
      if (child < 0) continue;
      const parent = parents[i]!;
      const frame = frames[i]!;
      let slot = (Math.imul(parent, 0x9e3779b1) ^ Math.imul(frame, 0x85ebca6b)) & mask;
      while (this.slotChild[slot]! >= 0) slot = (slot + 1) & mask;
      this.slotParent[slot] = parent;
      this.slotFrame[slot] = frame;
      this.slotChild[slot] = child;
    }
  }
}

function grow<T extends Int32Array | Float64Array | Uint8Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
