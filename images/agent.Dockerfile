# syntax=docker/dockerfile:1.7
# The ksleuth node agent. Build from the repository root:
#   docker build -f images/agent.Dockerfile -t ghcr.io/ksleuth/ksleuth-agent:0.1.0 .
# (hack/build-images.sh builds it with buildah where there is no Docker.)
# Debian bookworm carries the tools the captures run: bpftrace 0.17 and perf. Node.js 24 (LTS).

ARG NODE_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=debian:bookworm-slim

# Compile the TypeScript sources to dist/ (npm run build: tsc -p tsconfig.build.json) and the
# agent's native addon to dist/native/ (syslog(2) without dmesg, and dropping start-up's file
# pages: node-agent/engine/native.ts), with Debian's C compiler and the Node-API headers from npm.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY api api
COPY lib lib
COPY runtime runtime
COPY operator operator
COPY node-agent node-agent
COPY cli cli
COPY hack/build-native.mjs hack/build-native.mjs
RUN npm run build && node hack/build-native.mjs --required

# The runtime dependencies only, without type declarations and source maps (half of
# @kubernetes/client-node's size; nothing reads them at run time).
FROM ${NODE_IMAGE} AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.cts' -o -name '*.d.mts' -o -name '*.map' \) -delete

# Debian slim plus the node binary alone: npm, npx and corepack have no use at run time.
FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="ksleuth-agent" \
      org.opencontainers.image.description="ksleuth node agent: kernel captures (bpftrace, perf, ftrace) and sysctl mitigations" \
      org.opencontainers.image.licenses="Apache-2.0"
# bpftrace: kmalloc, io-latency, tcp retransmits, custom programs. linux-perf: cpu-profile.
# iproute2 (ip, ss), procps (sysctl), util-linux (lscpu, dmesg; setpriv, which ties every tool's
# life to the agent's), pciutils (lspci), tar: the bug-report bundle. openssl: the artifact
# server's serving certificate. The ftrace capture writes tracefs itself (no trace-cmd).
# bench/agent-image-size.sh measures what each costs.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      bpftrace linux-perf iproute2 procps util-linux pciutils tar openssl \
 && rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log
COPY --from=build /usr/local/bin/node /usr/local/bin/node
# lib/paths.ts finds the project root two levels above dist/lib, so /app holds package.json (the
# version), dist/ and the data files at the paths the code resolves from the root.
WORKDIR /app
COPY --from=dependencies /app/node_modules node_modules
COPY --from=build /src/dist dist
COPY package.json ./
COPY config/sysctl-allowlist.yaml config/sysctl-allowlist.yaml
COPY node-agent/patterns/kernel-log/rules.yaml node-agent/patterns/kernel-log/rules.yaml
COPY node-agent/watch/watch.yaml node-agent/watch/watch.yaml
# Root in the host's user namespace, cut to the chart's capability list (docs/security.md).
USER 0:0
ENV HOME=/tmp
EXPOSE 8081 9443
# The long-lived agent does little JavaScript work (API calls, sysctl reads, procfs samples):
# without a JIT, with a small young generation and V8 tuned for size (3.5 MB less resident, no
# measurable CPU) it stays small. Captures run in a worker process that the agent starts without
# these flags. bench/agent-idle.ts measures them (--variant= compares others).
ENTRYPOINT ["node", "--jitless", "--max-semi-space-size=1", "--v8-pool-size=1", "--optimize-for-size", "/app/dist/node-agent/main.js"]
