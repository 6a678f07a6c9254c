# Build: docker build -t custody-gateway .
# Run:   docker run -e DATABASE_URL=postgres://... -e CUSTODY_CONFIG=/app/config/production.toml custody-gateway
FROM rust:1-slim-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
# Cargo.toml names the benchmarks, so their sources must be there for the manifest to load.
COPY benches ./benches
# The simulators embed their test keys from config/sim.
COPY config ./config
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/custody-gateway /usr/local/bin/custody-gateway
COPY config /app/config
WORKDIR /app
ENV CUSTODY__SERVER__BIND=0.0.0.0:8080
EXPOSE 8080
USER 65534:65534
ENTRYPOINT ["custody-gateway"]
CMD ["serve"]
