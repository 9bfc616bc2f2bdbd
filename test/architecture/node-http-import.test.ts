import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../lib/paths.js';

const productFolders = ['lib', 'runtime', 'operator', 'node-agent', 'cli'];

function sources(dir: string): string[] {
  return readdirSync(join(projectRoot, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The statements of `text` that import values (not only types) from `module`. */
function valueImports(text: string, module: string): string[] {
  const statements = [...text.matchAll(/^import\s+([^;]*?)\s+from\s+['"]([^'"]+)['"]/gm)].filter((m) => m[2] === module);
  return statements.filter((m) => !/^type\s/.test(m[1]!) && !/^\{\s*(type\s+[\w$]+\s*,?\s*)+\}$/.test(m[1]!)).map((m) => m[0]);
}

// On Node.js 22.4 and later an ES import of node:http reads its WebSocket, CloseEvent and
// MessageEvent exports, which load undici and HTTP/2: about 11 MB of resident memory (lib/http.ts).
describe('node:http', () => {
  it('is imported for its types only; its functions come from lib/http.ts', () => {
    const offenders = productFolders
      .flatMap(sources)
      .flatMap((file) => valueImports(readFileSync(join(projectRoot, file), 'utf8'), 'node:http').map((s) => `${file}: ${s}`));
    expect(offenders).toEqual([]);
  });

  it('tells a value import from a type-only one', () => {
    expect(valueImports("import { request } from 'node:http';", 'node:http')).toHaveLength(1);
    expect(valueImports("import { type IncomingMessage, request } from 'node:http';", 'node:http')).toHaveLength(1);
    expect(valueImports("import * as http from 'node:http';", 'node:http')).toHaveLength(1);
    expect(valueImports("import type { Server } from 'node:http';", 'node:http')).toEqual([]);
    expect(valueImports("import { type Server, type IncomingMessage } from 'node:http';", 'node:http')).toEqual([]);
    expect(valueImports("import { request } from 'node:https';", 'node:http')).toEqual([]);
  });
});
