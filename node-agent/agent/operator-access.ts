import { createHash } from 'node:crypto';
import { agentAudience } from '../../lib/artifacts-api.js';
import type { KubeClient } from '../../lib/kube/client.js';

export type AccessDecision = { allowed: true; username: string } | { allowed: false; status: 401 | 403; message: string };

interface TokenReview {
  status: { authenticated?: boolean; user?: { username: string }; audiences?: string[]; error?: string };
}

const cacheMs = 60_000;
const maxCached = 1_000;

/**
 * Decides whether a bearer token is the operator's, bound to this node: a TokenReview with this
 * node's audience (agentAudience) must authenticate it as the operator's ServiceAccount. User
 * tokens, other agents' tokens and the operator's tokens for other nodes are all refused.
 * Decisions are cached for a minute per token.
 */
export class OperatorAccess {
  private readonly cache = new Map<string, { expires: number; decision: AccessDecision }>();
  private readonly audience: string;

  constructor(
    private readonly client: KubeClient,
    nodeName: string,
    /** The operator's username, system:serviceaccount:NAMESPACE:NAME. */
    private readonly operatorIdentity: string,
  ) {
    this.audience = agentAudience(nodeName);
  }

  async check(token: string | undefined): Promise<AccessDecision> {
    if (!token) return { allowed: false, status: 401, message: 'only the ksleuth operator fetches artifacts here, with a bearer token bound to this node' };
    const key = createHash('sha256').update(token).digest('hex');
    const now = Date.now();
    const cached = this.cache.get(key);
    if (cached && cached.expires > now) return cached.decision;
    const decision = await this.review(token);
    if (this.cache.size >= maxCached) {
      for (const [k, v] of this.cache) if (v.expires <= now) this.cache.delete(k);
      if (this.cache.size >= maxCached) this.cache.clear();
    }
    this.cache.set(key, { expires: now + cacheMs, decision });
    return decision;
  }

  private async review(token: string): Promise<AccessDecision> {
    const review = await this.client.request<TokenReview>('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [this.audience] } },
    });
    const { authenticated, user, audiences, error } = review.status;
    if (!authenticated || !user || !audiences?.includes(this.audience)) {
      return { allowed: false, status: 401, message: `the token is not valid for audience ${this.audience}: ${error ?? 'not authenticated'}` };
    }
    if (user.username !== this.operatorIdentity) {
      return {
        allowed: false,
        status: 403,
        message: `${user.username} is not the ksleuth operator (${this.operatorIdentity}); users fetch artifacts through the artifacts.ksleuth.io API`,
      };
    }
    return { allowed: true, username: user.username };
  }
}
