# One image for every Hail service: `hail serve <name>` picks which.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# Queries are checked against the committed .sqlx/ data: no database at build time.
ENV SQLX_OFFLINE=true
RUN cargo build --release --locked --bin hail

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/hail /usr/local/bin/hail
COPY frontend/public /app/frontend/public
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
