# gradest: Monte Carlo gradient estimation as an HTTP service.
#
#   docker build -t gradest .
#   docker run --rm -p 8080:8080 -v gradest-jobs:/var/lib/gradest gradest
#
# Build stage: the release binary, with dependencies cached in their own layer.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# Compile the dependencies against stub sources first, so that editing src/
# does not rebuild them.
RUN mkdir -p src benches examples \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > benches/estimate.rs \
    && cargo build --release --locked --bin gradest \
    && rm -rf src benches examples
COPY src ./src
COPY benches ./benches
COPY examples ./examples
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin gradest \
    && strip target/release/gradest

# Runtime stage: a small Debian with the binary only, running as a non-root user.
FROM debian:bookworm-slim AS runtime
# uid/gid 10001: the user deploy/kubernetes/deployment.yaml names in its securityContext.
# /var/lib/gradest: the embedded job store (SQLite), a volume so jobs outlive the container.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin gradest \
    && mkdir -p /var/lib/gradest \
    && chown 10001:10001 /var/lib/gradest
COPY --from=build /src/target/release/gradest /usr/local/bin/gradest
USER 10001:10001
# Listen on every interface inside the container; every other setting keeps its
# default and can be changed with the same GRADEST_* variables as outside.
ENV GRADEST_ADDR=0.0.0.0:8080 \
    GRADEST_LOG_FORMAT=json \
    GRADEST_DATA_DIR=/var/lib/gradest
VOLUME ["/var/lib/gradest"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/gradest", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/gradest"]
