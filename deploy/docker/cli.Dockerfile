# syntax=docker/dockerfile:1
# ladder, the command-line client. Build from the repository root:
#   docker build -f deploy/docker/cli.Dockerfile -t ladder-cli .
#   docker run --rm -e LADDER_COORDINATOR=ladder.lab.example:7400 -e LADDER_TOKEN \
#       -e LADDER_CA=/certs/ca.pem -v $PWD/certs:/certs:ro ladder-cli status

# ---------------------------------------------------------------- build
FROM debian:12 AS build
# The build packages of deploy/install-deps.sh (the whole tree is configured).
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
 && ninja -C build ladder \
 && deploy/docker/runtime-packages.sh build/bin/ladder >/runtime-packages.txt

# ---------------------------------------------------------------- runtime
FROM debian:12-slim
COPY --from=build /runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates $(cat /tmp/runtime-packages.txt) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent ladder
COPY --from=build /src/build/bin/ladder /usr/local/bin/ladder
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/ladder"]
CMD ["--help"]
