# syntax=docker/dockerfile:1
# The card pipeline's image: every executable (fleet, gateway and the four workers) plus Topics/.
#
#   docker build -t card-pipeline .
#   docker run --rm card-pipeline intake-worker --help
#
# Build stage: a Swift 6 toolchain on Debian bookworm, so the runtime stage (bookworm-slim) gets the
# same librdkafka (2.0.2) and libsqlite3 ABI the binaries were linked against.
ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${SWIFT_IMAGE} AS build
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends librdkafka-dev libsqlite3-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first: this layer is reused while only Sources/ change.
COPY Package.swift Package.resolved ./
RUN swift package resolve
COPY Sources ./Sources
COPY Tests ./Tests
# Static Swift standard library and Foundation: the runtime image needs no Swift toolchain.
RUN swift build -c release --static-swift-stdlib \
    && bin="$(swift build -c release --show-bin-path)" \
    && mkdir -p /staging/bin \
    && for exe in fleet gateway intake-worker identity-worker routing-worker production-worker; do \
         cp "$bin/$exe" /staging/bin/ && strip /staging/bin/$exe; \
       done \
    && find "$bin" -maxdepth 1 -name '*.resources' -exec cp -R {} /staging/bin/ \;

FROM ${RUNTIME_IMAGE}
# librdkafka1 (Kafka client), libsqlite3-0 (worker state), ca-certificates (TLS to brokers),
# curl (health checks), tzdata (rules compute ages in Asia/Shanghai), sqlite3 (backups: .backup).
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends \
         librdkafka1 libsqlite3-0 libstdc++6 ca-certificates curl tzdata sqlite3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 card \
    && useradd --system --uid 10001 --gid card --home-dir /var/lib/card --shell /usr/sbin/nologin card \
    && mkdir -p /var/lib/card/state /var/lib/card/uploads /app \
    && chown -R card:card /var/lib/card
COPY --from=build /staging/bin/ /usr/local/bin/
COPY Topics /app/Topics
WORKDIR /app
USER card:card
# Workers keep their SQLite state here (one file per partition); mount a volume on it.
ENV CARD_STATE_DIR=/var/lib/card/state \
    CARD_OPS_PORT=9100
VOLUME ["/var/lib/card/state"]
EXPOSE 9100 8090
CMD ["fleet", "--help"]
