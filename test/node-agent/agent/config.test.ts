import { describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../../node-agent/agent/config.js';

describe('agent configuration: who may fetch artifacts, and where', () => {
  it("accepts by default only the operator's ServiceAccount in the agent's own namespace", () => {
    const config = loadAgentConfig([], { NODE_NAME: 'node-a', POD_NAMESPACE: 'kernel-tools', POD_IP: '10.0.0.7' });
    expect(config.operatorIdentity).toBe('system:serviceaccount:kernel-tools:ksleuth-operator');
    expect(config.podIP).toBe('10.0.0.7');
    const chart = loadAgentConfig(['--operator-identity=system:serviceaccount:ops:sleuth-operator'], { NODE_NAME: 'node-a' });
    expect(chart.operatorIdentity).toBe('system:serviceaccount:ops:sleuth-operator');
  });

  it('refuses an operator identity that is no ServiceAccount, and a pod IP that is no address, naming the setting', () => {
    expect(() => loadAgentConfig(['--operator-identity=alice'], { NODE_NAME: 'node-a' })).toThrow(
      /--operator-identity \(KSLEUTH_OPERATOR_IDENTITY\) must be system:serviceaccount:NAMESPACE:NAME/,
    );
    expect(() => loadAgentConfig([], { NODE_NAME: 'node-a', POD_IP: 'node-a.internal' })).toThrow(/POD_IP \(--pod-ip\) must be an IP address/);
    expect(loadAgentConfig([], { NODE_NAME: 'node-a', POD_IP: 'fd00::7' }).podIP).toBe('fd00::7');
  });
});
