import { agentAudience } from '../../lib/artifacts-api.js';
import type { KubeClient } from '../../lib/kube/client.js';

interface SelfSubjectReview {
  status: { userInfo: { username: string } };
}

interface TokenRequest {
  status: { token: string; expirationTimestamp: string };
}

const lifetimeSeconds = 600;

/**
 * The operator's own ServiceAccount tokens for the agents, one per node with that node's audience
 * (TokenRequest), reused for two thirds of their life. An agent accepts only its node's audience,
 * so a token a node sees cannot be replayed against another node.
 */
export class AgentTokens {
  private readonly tokens = new Map<string, { token: string; renewAt: number; expires: number }>();
  private serviceAccount?: { namespace: string; name: string };

  constructor(private readonly client: KubeClient) {}

  async forNode(node: string, now = Date.now()): Promise<string> {
    const cached = this.tokens.get(node);
    if (cached && cached.renewAt > now) return cached.token;
    for (const [key, value] of this.tokens) if (value.expires <= now) this.tokens.delete(key);
    const { namespace, name } = await this.whoAmI();
    const request = await this.client.request<TokenRequest>('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { audiences: [agentAudience(node)], expirationSeconds: lifetimeSeconds },
      },
    });
    const expires = Date.parse(request.status.expirationTimestamp);
    this.tokens.set(node, { token: request.status.token, expires, renewAt: now + ((expires - now) * 2) / 3 });
    return request.status.token;
  }

  /** This process's ServiceAccount, from a SelfSubjectReview. */
  private async whoAmI(): Promise<{ namespace: string; name: string }> {
    if (this.serviceAccount) return this.serviceAccount;
    const review = await this.client.request<SelfSubjectReview>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    const match = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(review.status.userInfo.username);
    if (!match) {
      throw new Error(`the operator runs as ${review.status.userInfo.username}, not a ServiceAccount: it needs one to request tokens for the agents`);
    }
    this.serviceAccount = { namespace: match[1]!, name: match[2]! };
    return this.serviceAccount;
  }
}
