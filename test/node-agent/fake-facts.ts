import type { NodeFacts } from '../../node-agent/engine/probe.js';

/** Facts of a made-up node that offers everything a stand-in capture needs; override what a test is about. */
export function fakeNodeFacts(overrides: Partial<NodeFacts> = {}): NodeFacts {
  return {
    hostname: 'test',
    kernelVersion: '6.1.0',
    osImage: 'Test',
    architecture: 'amd64',
    bootId: 'b',
    capabilities: {
      root: true,
      tracefs: true,
      tracefsInstances: true,
      btf: true,
      kprobes: false,
      perfSoftwareEvents: true,
      perfHardwareEvents: false,
      tracers: ['nop'],
    },
    refusedTracers: new Map(),
    events: new Set(),
    tools: new Set(),
    readableFiles: new Set(),
    ...overrides,
  };
}
