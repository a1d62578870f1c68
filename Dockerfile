# Outdial's API, worker and sandbox carrier share one image; the command picks the role.
# Build: compile the TypeScript once, then keep only the production dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# allowScripts in package.json lets the native postinstalls (swc, protobufjs) run.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# Run: node on the compiled output, no TypeScript loader between the process and its signals.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# Fewer glibc malloc arenas: the Temporal core's threads would each grow one (src/dev/processes.ts).
ENV MALLOC_ARENA_MAX=2
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Migrations are applied at start (dist/src/db finds ../../../drizzle).
COPY drizzle ./drizzle
USER node
EXPOSE 3000
CMD ["node", "dist/src/server.js"]
