import type { KubeObject } from '../lib/kube/client.js';
import { objectKey } from './keys.js';

/** Computes the index values of an object, for example `[spec.nodeName]` or a label's value. */
export type IndexFunction<T> = (object: T) => readonly string[];

/** The read side of a {@link Store}: what informers hand to controllers. */
export interface ReadonlyStore<T extends KubeObject> {
  readonly size: number;
  get(key: string): T | undefined;
  has(key: string): boolean;
  keys(): IterableIterator<string>;
  /** Every object, or those that pass `filter`. */
  list(filter?: (object: T) => boolean): T[];
  /** The objects whose index `indexName` contains `value` (O(matches)). */
  byIndex(indexName: string, value: string): T[];
  /** The keys whose index `indexName` contains `value`. */
  keysByIndex(indexName: string, value: string): string[];
}

/**
 * Objects by key (`namespace/name`, or `name` for cluster-scoped objects) with O(1) get, set and
 * delete, and optional secondary indexes kept up to date on every write.
 */
export class Store<T extends KubeObject> implements ReadonlyStore<T> {
  private readonly objects = new Map<string, T>();
  /** index name → index value → keys */
  private readonly indexes = new Map<string, Map<string, Set<string>>>();

  constructor(private readonly indexers: Readonly<Record<string, IndexFunction<T>>> = {}) {
    for (const name of Object.keys(indexers)) this.indexes.set(name, new Map());
  }

  get size(): number {
    return this.objects.size;
  }

  get(key: string): T | undefined {
    return this.objects.get(key);
  }

  has(key: string): boolean {
    return this.objects.has(key);
  }

  keys(): IterableIterator<string> {
    return this.objects.keys();
  }

  list(filter?: (object: T) => boolean): T[] {
    const all = [...this.objects.values()];
    return filter ? all.filter(filter) : all;
  }

  keysByIndex(indexName: string, value: string): string[] {
    const index = this.indexes.get(indexName);
    if (!index)
      throw new Error(`the store has no index "${indexName}": declare it in the informer's indexers (have: ${[...this.indexes.keys()].join(', ') || 'none'})`);
    return [...(index.get(value) ?? [])];
  }

  byIndex(indexName: string, value: string): T[] {
    return this.keysByIndex(indexName, value).map((key) => this.objects.get(key)!);
  }

  /** Stores the object under its key and returns the previous one. */
  set(object: T): T | undefined {
    const key = objectKey(object);
    const previous = this.objects.get(key);
    if (previous) this.unindex(key, previous);
    this.objects.set(key, object);
    this.index(key, object);
    return previous;
  }

  /** Removes the object with this key and returns it. */
  delete(key: string): T | undefined {
    const previous = this.objects.get(key);
    if (!previous) return undefined;
    this.unindex(key, previous);
    this.objects.delete(key);
    return previous;
  }

  private index(key: string, object: T): void {
    for (const [name, indexer] of Object.entries(this.indexers)) {
      const index = this.indexes.get(name)!;
      for (const value of indexer(object)) {
        let keys = index.get(value);
        if (!keys) {
          keys = new Set();
          index.set(value, keys);
        }
        keys.add(key);
      }
    }
  }

  private unindex(key: string, object: T): void {
    for (const [name, indexer] of Object.entries(this.indexers)) {
      const index = this.indexes.get(name)!;
      for (const value of indexer(object)) {
        const keys = index.get(value);
        if (!keys) continue;
        keys.delete(key);
        if (keys.size === 0) index.delete(value);
      }
    }
  }
}

/** Indexes objects by the value of one label (objects without it are not indexed). */
export function labelIndex<T extends KubeObject>(label: string): IndexFunction<T> {
  return (object) => {
    const value = object.metadata.labels?.[label];
    return value === undefined ? [] : [value];
  };
}

/**
 * Indexes objects by a field given as a dotted path, for example `spec.nodeName`. Missing or
 * non-string values are not indexed.
 */
export function fieldIndex<T extends KubeObject>(path: string): IndexFunction<T> {
  const parts = path.split('.');
  return (object) => {
    let value: unknown = object;
    for (const part of parts) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
    return typeof value === 'string' ? [value] : [];
  };
}
