# syntax=docker/dockerfile:1
# ladder-coordinator. Build from the repository root:
#   docker build -f deploy/docker/coordinator.Dockerfile -t ladder-coordinator .
# Runs as an unprivileged user; configure with flags (ladder-coordinator
# --help) and LADDER_DATABASE_URL. Ports: 7400 gRPC (TLS), 9400 /metrics.

# ---------------------------------------------------------------- build
FROM debian:12 AS build
# The build packages of deploy/install-deps.sh that the coordinator needs.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config ca-certificates \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
      libpqxx-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev \
      libboost-dev libboost-filesystem-dev libssl-dev prometheus-cpp-dev \
      libceres-dev libeigen3-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DLADDER_BUILD_TRAINER=OFF -DLADDER_BUILD_TESTS=OFF \
 && ninja -C build ladder-coordinator \
 && deploy/docker/runtime-packages.sh build/bin/ladder-coordinator >/runtime-packages.txt

# ---------------------------------------------------------------- runtime
FROM debian:12-slim
COPY --from=build /runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates $(cat /tmp/runtime-packages.txt) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent ladder
COPY --from=build /src/build/bin/ladder-coordinator /usr/local/bin/ladder-coordinator
USER 10001:10001
EXPOSE 7400 9400
ENTRYPOINT ["/usr/local/bin/ladder-coordinator"]
CMD ["--listen=0.0.0.0:7400", "--metrics-listen=0.0.0.0:9400"]
