# Parley: Node 20 on Debian bookworm, with the Debian packages the local speech parts need.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY scripts/build-dist.mjs ./scripts/
COPY src ./src
# The build also prepares the embedded database's template from the migrations (src/db/pglite-template.ts).
COPY migrations ./migrations
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends espeak-ng flite pocketsphinx pocketsphinx-en-us sox ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production DATA_DIR=/data PORT=3000
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY migrations ./migrations
COPY prompts ./prompts
RUN useradd --system --uid 10001 --home /app parley && mkdir -p /data && chown parley /data
USER parley
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 CMD curl -fsS "http://127.0.0.1:${PORT:-3000}/healthz" || exit 1
CMD ["node", "dist/main.js"]
