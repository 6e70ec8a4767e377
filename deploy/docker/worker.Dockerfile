# syntax=docker/dockerfile:1
# ladder-worker with ladder-sim, the SIMULATED trainer (CPU only: tests,
# load work, demos; it trains nothing). For real training on GPUs use
# worker-gpu.Dockerfile. Build from the repository root:
#   docker build -f deploy/docker/worker.Dockerfile -t ladder-worker .
# tini is PID 1 and passes SIGTERM to the daemon alone (which drains and
# stops its trainers itself) and reaps what trainers leave behind.

# ---------------------------------------------------------------- build
FROM debian:12 AS build
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
 && ninja -C build ladder-worker ladder-sim \
 && deploy/docker/runtime-packages.sh build/bin/ladder-worker build/bin/ladder-sim \
      >/runtime-packages.txt

# ---------------------------------------------------------------- runtime
FROM debian:12-slim
COPY --from=build /runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates tini $(cat /tmp/runtime-packages.txt) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent ladder \
 && install -d -o 10001 -g 10001 /var/lib/ladder/work
COPY --from=build /src/build/bin/ladder-worker /src/build/bin/ladder-sim /usr/local/bin/
USER 10001:10001
EXPOSE 9401
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/ladder-worker", "--trainer=/usr/local/bin/ladder-sim"]
CMD ["--work-dir=/var/lib/ladder/work", "--metrics-listen=0.0.0.0:9401", "--devices=cpu"]
