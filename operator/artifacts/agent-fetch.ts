import type { IncomingMessage } from 'node:http';
import { http } from '../../lib/http.js';
import { connect, type TLSSocket } from 'node:tls';
import type { KernelNode } from '../../api/v1alpha1/resources.js';

type Endpoint = NonNullable<NonNullable<KernelNode['status']>['agentEndpoint']>;

/** Why an agent could not be reached, with the HTTP status to answer the user with. */
export class AgentUnavailable extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** A TLS connection to the agent whose certificate has the published fingerprint; nothing is sent before that is checked. */
function connectPinned(node: string, address: string, port: number, fingerprint: string, timeoutMs: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    // The certificate is self-signed: chain verification cannot apply, the pin does.
    const socket = connect({ host: address, port, rejectUnauthorized: false });
    const fail = (message: string): void => {
      socket.destroy();
      reject(new AgentUnavailable(message, 503));
    };
    socket.setTimeout(timeoutMs, () => fail(`the agent on ${node} did not answer within ${timeoutMs} ms`));
    socket.once('error', (error) => fail(`could not reach the agent on ${node} at ${address}:${port}: ${error.message}`));
    socket.once('secureConnect', () => {
      if (socket.getPeerCertificate().fingerprint256 !== fingerprint) {
        fail(`the agent on ${node} presented a certificate other than the one in its KernelNode status`);
        return;
      }
      socket.removeAllListeners('error');
      socket.setTimeout(0);
      resolve(socket);
    });
  });
}

/**
 * GETs a path from a node's agent with the operator's token. The agent's certificate is
 * self-signed; it is accepted only when its fingerprint is the one the agent published in its
 * KernelNode status (which only that node's agent may write).
 */
export async function fetchFromAgent(node: string, endpoint: Endpoint, path: string, token: string, timeoutMs = 30_000): Promise<IncomingMessage> {
  const { address, certificateSHA256 } = endpoint;
  if (!address || !certificateSHA256) {
    throw new AgentUnavailable(`the agent on ${node} publishes no address or certificate fingerprint in its KernelNode status: upgrade it`, 503);
  }
  const socket = await connectPinned(node, address, endpoint.port, certificateSHA256, timeoutMs);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: address, port: endpoint.port, path, method: 'GET', headers: { Authorization: `Bearer ${token}` }, createConnection: () => socket },
      resolve,
    );
    req.on('error', (error) => reject(new AgentUnavailable(`the agent on ${node} failed the request: ${error.message}`, 503)));
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.end();
  });
}
