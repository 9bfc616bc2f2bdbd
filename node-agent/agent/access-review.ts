import { createHash } from 'node:crypto';
import type { KubeClient } from '../../lib/kube/client.js';

export interface Caller {
  username: string;
  groups: string[];
  uid?: string;
  extra?: Record<string, string[]>;
}

export type AccessDecision = { allowed: true; caller: Caller } | { allowed: false; status: 401 | 403; message: string };

interface TokenReview {
  status: { authenticated?: boolean; user?: Caller; error?: string };
}

interface SubjectAccessReview {
  status: { allowed: boolean; reason?: string };
}

const cacheMs = 60_000;

/**
 * Decides whether the bearer of a token may read a capture's artifacts: TokenReview says who it
 * is, SubjectAccessReview whether that user may `get` kernelcaptures/artifacts for the capture.
 * Decisions are cached for a minute per token and capture.
 */
export class ArtifactAccess {
  private readonly cache = new Map<string, { expires: number; decision: AccessDecision }>();

  constructor(private readonly client: KubeClient) {}

  async check(token: string | undefined, capture: string): Promise<AccessDecision> {
    if (!token) return { allowed: false, status: 401, message: 'send a bearer token in the X-Ksleuth-Token header' };
    const key = `${createHash('sha256').update(token).digest('hex')}/${capture}`;
    const cached = this.cache.get(key);
    if (cached && cached.expires > Date.now()) return cached.decision;
    const decision = await this.review(token, capture);
    this.cache.set(key, { expires: Date.now() + cacheMs, decision });
    if (this.cache.size > 10_000) this.cache.clear();
    return decision;
  }

  private async review(token: string, capture: string): Promise<AccessDecision> {
    const tokenReview = await this.client.request<TokenReview>('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
    });
    const user = tokenReview.status.user;
    if (!tokenReview.status.authenticated || !user) {
      return { allowed: false, status: 401, message: `the token was not accepted: ${tokenReview.status.error ?? 'not authenticated'}` };
    }
    const review = await this.client.request<SubjectAccessReview>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: user.username,
          groups: user.groups,
          uid: user.uid,
          extra: user.extra,
          resourceAttributes: { group: 'ksleuth.io', resource: 'kernelcaptures', subresource: 'artifacts', verb: 'get', name: capture },
        },
      },
    });
    if (!review.status.allowed) {
      return {
        allowed: false,
        status: 403,
        message: `${user.username} may not get kernelcaptures/artifacts "${capture}" (grant the ksleuth-artifact-reader ClusterRole)`,
      };
    }
    return { allowed: true, caller: user };
  }
}
