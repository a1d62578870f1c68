# Outdial's API, worker and sandbox carrier share one image; the command picks the role.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# allowScripts in package.json lets the native postinstalls (swc, protobufjs) run.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json drizzle.config.ts ./
COPY drizzle ./drizzle
COPY src ./src
# Workers bundle the workflow code at start; tsx runs the TypeScript entry points directly.
USER node
EXPOSE 3000
CMD ["node_modules/.bin/tsx", "src/server.ts"]
