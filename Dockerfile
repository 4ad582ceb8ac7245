# The SINTRA API. Not exercised by CI (no Docker engine there); see README.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p sintra-http

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 sintra
COPY --from=build /src/target/release/sintra /usr/local/bin/sintra
USER sintra
ENV SINTRA_BIND=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/sintra"]
CMD ["serve"]
