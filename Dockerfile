# One image for every Hail service: `hail serve <name>` picks which.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# Queries are checked against the committed .sqlx/ data: no database at build time.
ENV SQLX_OFFLINE=true
RUN cargo build --release --locked --bin hail

# The web apps (passenger at /, driver at /driver/, support at /support/).
FROM node:22-bookworm-slim AS web
WORKDIR /web
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/hail /usr/local/bin/hail
COPY frontend/public /app/frontend/public
COPY --from=web /web/dist /app/frontend/dist
WORKDIR /app
# Inside a container the services listen on all interfaces; only the gateway's
# port is published by docker-compose.yml.
ENV HAIL_GATEWAY_HOST=0.0.0.0 \
    HAIL_SERVICE_HOST=0.0.0.0 \
    HAIL_LOG_FORMAT=json
USER 10001
EXPOSE 3000
ENTRYPOINT ["hail"]
CMD ["serve", "all"]
