/**
 * npm run images  builds the operator and agent images from images/*.Dockerfile (with buildah, by
 *                 hack/build-images.sh; cached) and loads them into the running real node
 *                 (npm run cluster:up -- --real-node), where the chart finds them under its
 *                 default image references without pulling. Prints the two references.
 */
import { ensureBinaries } from '../test/harness/binaries.js';
import { ensureImages } from '../test/harness/images.js';
import { loadImagesIntoNode, nodeCtr } from '../test/harness/real-node.js';

const started = Date.now();
const [images, binaries] = await Promise.all([ensureImages(), ensureBinaries()]);
console.error(`images ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
const nodeRuns = await nodeCtr(binaries.ctr, ['version']).then(
  () => true,
  () => false,
);
if (nodeRuns) {
  const loading = Date.now();
  await loadImagesIntoNode(binaries.ctr, ['operator', 'agent']);
  console.error(`loaded into the real node's containerd in ${((Date.now() - loading) / 1000).toFixed(1)}s`);
  console.error('install the chart: helm install ksleuth charts/ksleuth -n ksleuth-system --create-namespace --values charts/ksleuth/ci/real-node-values.yaml');
} else {
  console.error('no real node runs (npm run cluster:up -- --real-node): the images are built, not loaded');
  for (const name of ['operator', 'agent'] as const) console.error(`  ${images[name].reference}: ${images[name].archive}`);
}
console.log(images.operator.reference);
console.log(images.agent.reference);
