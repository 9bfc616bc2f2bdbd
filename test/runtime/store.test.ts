import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../lib/kube/client.js';
import { keyOf, objectKey, parseKey } from '../../runtime/keys.js';
import { Store, fieldIndex, labelIndex } from '../../runtime/store.js';

type Capture = KubeObject & { spec?: { nodeName: string } };

function capture(name: string, node: string, investigation: string, resourceVersion = '1'): Capture {
  return { metadata: { name, resourceVersion, labels: { 'ksleuth.io/investigation': investigation } }, spec: { nodeName: node } };
}

describe('keys', () => {
  it('round-trips namespaced and cluster-scoped keys', () => {
    expect(objectKey({ metadata: { name: 'a', namespace: 'ns' } })).toBe('ns/a');
    expect(objectKey({ metadata: { name: 'a' } })).toBe('a');
    expect(parseKey('ns/a')).toEqual({ namespace: 'ns', name: 'a' });
    expect(parseKey('a')).toEqual({ name: 'a' });
    expect(keyOf('a', 'ns')).toBe('ns/a');
    expect(() => objectKey({ metadata: {} })).toThrow(/no metadata.name/);
  });
});

describe('Store', () => {
  it('gets, sets, replaces and deletes by key', () => {
    const store = new Store<Capture>();
    expect(store.set(capture('c1', 'n1', 'inv'))).toBeUndefined();
    const previous = store.set(capture('c1', 'n1', 'inv', '2'));
    expect(previous?.metadata.resourceVersion).toBe('1');
    expect(store.get('c1')?.metadata.resourceVersion).toBe('2');
    expect(store.size).toBe(1);
    expect(store.delete('c1')?.metadata.resourceVersion).toBe('2');
    expect(store.delete('c1')).toBeUndefined();
    expect(store.has('c1')).toBe(false);
  });

  it('lists with a filter', () => {
    const store = new Store<Capture>();
    store.set(capture('a', 'n1', 'x'));
    store.set(capture('b', 'n2', 'y'));
    expect(store.list((o) => o.spec?.nodeName === 'n2').map((o) => o.metadata.name)).toEqual(['b']);
    expect(store.list()).toHaveLength(2);
  });

  it('keeps secondary indexes current across updates that move an object and deletes', () => {
    const store = new Store<Capture>({ byNode: fieldIndex('spec.nodeName'), byInvestigation: labelIndex('ksleuth.io/investigation') });
    store.set(capture('c1', 'n1', 'inv-a'));
    store.set(capture('c2', 'n1', 'inv-b'));
    store.set(capture('c3', 'n2', 'inv-a'));
    expect(store.keysByIndex('byNode', 'n1').sort()).toEqual(['c1', 'c2']);
    expect(
      store
        .byIndex('byInvestigation', 'inv-a')
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['c1', 'c3']);

    store.set(capture('c1', 'n2', 'inv-b', '2'));
    expect(store.keysByIndex('byNode', 'n1')).toEqual(['c2']);
    expect(store.keysByIndex('byNode', 'n2').sort()).toEqual(['c1', 'c3']);
    expect(store.keysByIndex('byInvestigation', 'inv-a')).toEqual(['c3']);

    store.delete('c3');
    expect(store.keysByIndex('byNode', 'n2')).toEqual(['c1']);
    expect(store.keysByIndex('byInvestigation', 'inv-a')).toEqual([]);
    expect(store.keysByIndex('byNode', 'nowhere')).toEqual([]);
  });

  it('does not index objects without the field or label, and names a missing index', () => {
    const store = new Store<Capture>({ byNode: fieldIndex('spec.nodeName') });
    store.set({ metadata: { name: 'bare' } });
    expect(store.size).toBe(1);
    expect(() => store.byIndex('byLabel', 'x')).toThrow(/no index "byLabel".*have: byNode/);
  });
});
