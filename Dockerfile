# syntax=docker/dockerfile:1
# Build: everything needed to bundle the function. The bundle (dist/webhook.cjs) holds every runtime dependency,
# so the runtime stage needs no node_modules at all: no dev dependencies, no npm, no shell. The build also runs the
# function once against loopback stand-ins to write its V8 code cache (dist/webhook.cjs.cache), which makes cold
# starts faster wherever the runtime's Node.js build matches the build stage's (else V8 ignores the cache).
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY functions ./functions
COPY shared ./shared
COPY scripts/build.ts scripts/dist-paths.ts scripts/warm-code-cache.ts ./scripts/
COPY stand-ins ./stand-ins
RUN npx tsx scripts/build.ts

# Runtime: distroless Node.js 20, running as the non-root user "nonroot" (65532).
FROM gcr.io/distroless/nodejs20-debian12:nonroot AS runtime
WORKDIR /app
COPY --from=build /src/dist/start.cjs /src/dist/webhook.cjs /src/dist/webhook.cjs.cache ./
ENV NODE_ENV=production PORT=8080
EXPOSE 8080
USER 65532:65532
ENTRYPOINT ["/nodejs/bin/node", "/app/start.cjs"]
