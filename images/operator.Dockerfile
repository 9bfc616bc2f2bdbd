# syntax=docker/dockerfile:1.7
# The ksleuth operator. Build from the repository root:
#   docker build -f images/operator.Dockerfile -t ghcr.io/ksleuth/ksleuth-operator:0.1.0 .
# (hack/build-images.sh builds it with buildah where there is no Docker.)
# It only talks to the API server, so the runtime is distroless Node.js 24 (LTS) as a non-root user:
# no shell, no package manager.

ARG NODE_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

# Compile the TypeScript sources to dist/ (npm run build: tsc -p tsconfig.build.json).
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY api api
COPY lib lib
COPY runtime runtime
COPY operator operator
COPY node-agent node-agent
COPY cli cli
RUN npm run build

# The runtime dependencies only, without type declarations and source maps (half of
# @kubernetes/client-node's size; nothing reads them at run time).
FROM ${NODE_IMAGE} AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.cts' -o -name '*.d.mts' -o -name '*.map' \) -delete

# lib/paths.ts finds the project root two levels above dist/lib, so /app holds package.json (the
# version), dist/ and the data files at the paths the code resolves from the root.
FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="ksleuth-operator" \
      org.opencontainers.image.description="ksleuth operator: resolves KernelInvestigations and KernelMitigations into per-node work" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
COPY --from=dependencies /app/node_modules node_modules
COPY --from=build /src/dist dist
COPY package.json ./
COPY config/sysctl-allowlist.yaml config/sysctl-allowlist.yaml
USER 65532:65532
EXPOSE 8080
# V8's young generation grows to 2 × 16 MB semi-spaces while the informers list and watch
# thousands of objects (a cluster's Nodes and KernelNodes at start, a fan-out's KernelCaptures);
# 8 MB semi-spaces keep the operator's peak RSS under 150 MB at 5,000 nodes.
# bench/investigation-fanout.ts runs the operator with these options (--operator-node-options compares others).
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=8", "/app/dist/operator/main.js"]
