import { createRequire } from 'node:module';

/**
 * node:http, loaded with require. An ES import of a Node.js built-in reads every export of it, and
 * reading node:http's WebSocket, CloseEvent and MessageEvent (Node.js 22.4 and later) loads undici
 * and HTTP/2: 11 MB more resident memory in a process that only needs `request` and `createServer`
 * (bench/agent-imports.ts). Import the types from 'node:http' with `import type`.
 */
export const http: typeof import('node:http') = createRequire(import.meta.url)('node:http');
