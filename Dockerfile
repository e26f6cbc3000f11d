# syntax=docker/dockerfile:1
# Build: everything needed to bundle the function. The bundle (dist/webhook.mjs) holds every runtime dependency,
# so the runtime stage needs no node_modules at all: no dev dependencies, no npm, no shell.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY functions ./functions
COPY shared ./shared
COPY scripts/build.ts ./scripts/build.ts
RUN npx tsx scripts/build.ts

# Runtime: distroless Node.js 20, running as the non-root user "nonroot" (65532).
FROM gcr.io/distroless/nodejs20-debian12:nonroot AS runtime
WORKDIR /app
COPY --from=build /src/dist/webhook.mjs /src/dist/webhook.mjs.map ./
ENV NODE_ENV=production PORT=8080
EXPOSE 8080
USER 65532:65532
ENTRYPOINT ["/nodejs/bin/node", "--enable-source-maps", "/app/webhook.mjs"]
