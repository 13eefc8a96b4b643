# syntax=docker/dockerfile:1
# The ferry image: a release build in the official Rust image, copied onto distroless/cc
# (glibc, CA certificates, no shell, no package manager) and run as the distroless "nonroot"
# user (65532). docs/install.md describes how to build and use it.

ARG RUST_VERSION=1.95
FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# aws-lc-rs (kube's TLS provider) compiles C: the Rust image has gcc and make; cmake is for
# its fallback build.
RUN apt-get update && apt-get install -y --no-install-recommends cmake \
    && rm -rf /var/lib/apt/lists/*
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin ferry \
    && install -D -m 0755 target/release/ferry /out/ferry

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ferry /usr/local/bin/ferry
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/ferry"]
CMD ["agent"]
