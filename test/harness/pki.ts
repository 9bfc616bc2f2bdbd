import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Pki {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  /** The aggregation layer: the CA of the API server's front-proxy client certificate, and that certificate. */
  frontProxyCaCert: string;
  frontProxyClientCert: string;
  frontProxyClientKey: string;
}

/** The name the front-proxy client certificate carries (--requestheader-allowed-names). */
export const frontProxyClientName = 'front-proxy-client';

async function openssl(args: string[]): Promise<void> {
  await run('openssl', args).catch((error: unknown) => {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim()}`);
  });
}

async function selfSignedCa(dir: string, name: string, subject: string): Promise<{ caCert: string; caKey: string }> {
  const caKey = join(dir, `${name}.key`);
  const caCert = join(dir, `${name}.crt`);
  await openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    caKey,
    '-out',
    caCert,
    '-days',
    '30',
    '-subj',
    subject,
  ]);
  return { caCert, caKey };
}

async function signedCert(
  dir: string,
  name: string,
  subject: string,
  pki: { caCert: string; caKey: string },
  extensions: string,
): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, extensions);
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', subject]);
  await openssl(['x509', '-req', '-in', csr, '-CA', pki.caCert, '-CAkey', pki.caKey, '-CAcreateserial', '-out', cert, '-days', '30', '-extfile', ext]);
  return { cert, key };
}

/** A client certificate signed by the cluster's CA, for example a kubelet's (O=system:nodes/CN=system:node:NAME). */
export async function createClientCert(pki: Pki, name: string, subject: string): Promise<{ cert: string; key: string }> {
  return signedCert(dirname(pki.caCert), name, subject, pki, clientCertExtensions);
}

const clientCertExtensions = ['basicConstraints=CA:FALSE', 'keyUsage=digitalSignature,keyEncipherment', 'extendedKeyUsage=clientAuth', ''].join('\n');

/** A throw-away PKI for one local cluster: a CA, the API server's serving cert, an admin client cert and the service-account signing key. */
export async function createPki(dir: string, extraAddresses: string[] = []): Promise<Pki> {
  const { caCert, caKey } = await selfSignedCa(dir, 'ca', '/CN=ksleuth-local-ca');
  const ca = { caCert, caKey };
  const server = await signedCert(
    dir,
    'apiserver',
    '/CN=kube-apiserver',
    ca,
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=IP:127.0.0.1,IP:10.96.0.1,${extraAddresses.map((a) => `IP:${a},`).join('')}DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local`,
      '',
    ].join('\n'),
  );
  const admin = await signedCert(dir, 'admin', '/O=system:masters/CN=kubernetes-admin', ca, clientCertExtensions);
  const serviceAccountKey = join(dir, 'sa.key');
  const serviceAccountPub = join(dir, 'sa.pub');
  await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', serviceAccountKey]);
  await openssl(['pkey', '-in', serviceAccountKey, '-pubout', '-out', serviceAccountPub]);
  // A CA of its own, as kubeadm does: a certificate from the cluster CA must not pass as the front proxy.
  const frontProxyCa = await selfSignedCa(dir, 'front-proxy-ca', '/CN=ksleuth-local-front-proxy-ca');
  const frontProxyClient = await signedCert(dir, 'front-proxy-client', `/CN=${frontProxyClientName}`, frontProxyCa, clientCertExtensions);
  return {
    caCert,
    caKey,
    serverCert: server.cert,
    serverKey: server.key,
    adminCert: admin.cert,
    adminKey: admin.key,
    serviceAccountKey,
    serviceAccountPub,
    frontProxyCaCert: frontProxyCa.caCert,
    frontProxyClientCert: frontProxyClient.cert,
    frontProxyClientKey: frontProxyClient.key,
  };
}
