# syntax=docker/dockerfile:1.7
# The controller and the admission webhook, from one build stage:
#   docker build --target controller -t ghcr.io/galos/git-change-operator-controller:0.1.0 .
#   docker build --target webhook    -t ghcr.io/galos/git-change-operator-webhook:0.1.0 .
# Both run on distroless (no shell, no package manager) as the non-root user 65532.

ARG RUST_VERSION=1.95
ARG DEBIAN=bookworm

FROM docker.io/library/rust:${RUST_VERSION}-slim-${DEBIAN} AS build
# git2 links OpenSSL (https) and builds libgit2 and libssh2 from source; the runtime image
# (Debian 12, like this one) ships the same libssl3. zlib is linked statically: distroless
# does not ship it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev \
 && rm -rf /var/lib/apt/lists/*
ENV LIBZ_SYS_STATIC=1 \
    CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p gco-controller -p gco-webhook \
 && mkdir -p /out \
 && cp target/release/gco-controller target/release/gco-webhook /out/

# The bare-repository cache and /tmp are emptyDir volumes in the chart (read-only root FS).
FROM gcr.io/distroless/cc-debian12:nonroot AS webhook
COPY --from=build /out/gco-webhook /usr/local/bin/gco-webhook
USER 65532:65532
EXPOSE 9443 8080
ENTRYPOINT ["/usr/local/bin/gco-webhook"]

FROM gcr.io/distroless/cc-debian12:nonroot AS controller
COPY --from=build /out/gco-controller /usr/local/bin/gco-controller
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/gco-controller"]
CMD ["run"]
