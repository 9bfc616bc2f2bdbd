# syntax=docker/dockerfile:1.7
# The ksleuth operator. Build from the repository root:
#   docker build -f images/operator.Dockerfile -t ghcr.io/ksleuth/ksleuth-operator:0.1.0 .
# It only talks to the API server, so the runtime is distroless Node.js as a non-root user.

ARG NODE_IMAGE=node:20-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs20-debian12:nonroot

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

# The runtime dependencies only.
FROM ${NODE_IMAGE} AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

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
ENTRYPOINT ["/nodejs/bin/node", "/app/dist/operator/main.js"]
