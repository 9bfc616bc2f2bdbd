import { z } from 'zod';
import { group, version } from './v1alpha1/common.js';
import type { ResourceDefinition } from './v1alpha1/resources.js';

type Schema = Record<string, unknown>;

const safeIntegerBounds = new Set([Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]);

/**
 * Turns zod's OpenAPI output into a structural schema the API server accepts: no
 * additionalProperties:false, no safe-integer bounds, no regex on date-times, and
 * preserve-unknown-fields objects without a value schema.
 */
export function structural(node: unknown, path = '$'): unknown {
  if (Array.isArray(node)) return node.map((item, i) => structural(item, `${path}[${i}]`));
  if (node === null || typeof node !== 'object') return node;
  const out: Schema = {};
  const preserveUnknown = (node as Schema)['x-kubernetes-preserve-unknown-fields'] === true;
  for (const [key, value] of Object.entries(node as Schema)) {
    if (key === '$schema') continue;
    if (preserveUnknown && (key === 'additionalProperties' || key === 'anyOf')) continue;
    if (key === 'additionalProperties' && value === false) continue;
    if ((key === 'minimum' || key === 'maximum') && safeIntegerBounds.has(value as number)) continue;
    if (key === 'properties' || key === 'additionalProperties' || key === 'items') {
      out[key] = structuralChildren(key, value, path);
      continue;
    }
    out[key] = value;
  }
  if (out.format === 'date-time') delete out.pattern;
  const ordered = withKeysFirst(out, ['description', 'type']);
  for (const forbidden of ['anyOf', 'oneOf', 'allOf', 'not', '$ref'] as const) {
    if (forbidden in out) throw new Error(`${path}: ${forbidden} makes the schema non-structural; model it with optional fields and a CEL rule`);
  }
  if (path !== '$' && !('type' in out) && out['x-kubernetes-preserve-unknown-fields'] !== true && !out['x-kubernetes-int-or-string']) {
    throw new Error(`${path}: every field needs a type in a structural schema`);
  }
  return ordered;
}

function withKeysFirst(schema: Schema, first: string[]): Schema {
  const out: Schema = {};
  for (const key of first) if (key in schema) out[key] = schema[key];
  for (const [key, value] of Object.entries(schema)) if (!(key in out)) out[key] = value;
  return out;
}

function structuralChildren(key: string, value: unknown, path: string): unknown {
  if (key === 'properties') {
    return Object.fromEntries(Object.entries(value as Schema).map(([name, child]) => [name, structural(child, `${path}.${name}`)]));
  }
  return structural(value, key === 'items' ? `${path}[]` : `${path}.*`);
}

/** Every field must say what it is for; returns the paths that do not. */
export function undescribedFields(node: unknown, path = '$'): string[] {
  if (node === null || typeof node !== 'object') return [];
  const schema = node as Schema;
  const missing: string[] = [];
  if (path !== '$' && typeof schema.description !== 'string') missing.push(path);
  for (const [name, child] of Object.entries((schema.properties as Schema | undefined) ?? {})) {
    missing.push(...undescribedFields(child, `${path}.${name}`));
  }
  if (schema.items) {
    const items = schema.items as Schema;
    for (const [name, child] of Object.entries((items.properties as Schema | undefined) ?? {})) {
      missing.push(...undescribedFields(child, `${path}[].${name}`));
    }
  }
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    const values = schema.additionalProperties as Schema;
    for (const [name, child] of Object.entries((values.properties as Schema | undefined) ?? {})) {
      missing.push(...undescribedFields(child, `${path}.*.${name}`));
    }
  }
  return missing;
}

export function openApiSchema(schema: z.ZodType, path: string): Schema {
  const raw = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', reused: 'inline', unrepresentable: 'throw' });
  return structural(raw, path) as Schema;
}

/** The CustomResourceDefinition for one resource. */
export function customResourceDefinition(def: ResourceDefinition): Schema {
  const spec = openApiSchema(def.spec, 'spec');
  const status = openApiSchema(def.status, 'status');
  const schema: Schema = {
    type: 'object',
    description: def.description,
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string', description: 'The versioned schema of this object: ksleuth.io/v1alpha1.' },
      kind: { type: 'string', description: `The kind of this object: ${def.kind}.` },
      metadata: { type: 'object' },
      spec,
      status,
    },
  };
  const missing = [...undescribedFields(spec, 'spec'), ...undescribedFields(status, 'status')];
  if (missing.length > 0) throw new Error(`${def.kind}: fields without a description: ${missing.join(', ')}`);
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${def.plural}.${group}`,
      labels: { 'app.kubernetes.io/name': 'ksleuth', 'app.kubernetes.io/part-of': 'ksleuth' },
    },
    spec: {
      group,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: ['ksleuth'],
      },
      scope: 'Cluster',
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.printerColumns,
          ...(def.selectableFields ? { selectableFields: def.selectableFields.map((jsonPath) => ({ jsonPath })) } : {}),
          schema: { openAPIV3Schema: schema },
        },
      ],
    },
  };
}
