# syntax=docker/dockerfile:1
# ladder-worker with ladder-train, the real trainer, for NVIDIA GPU nodes
# (the Kubernetes DaemonSet's image). Build from the repository root:
#   docker build -f deploy/docker/worker-gpu.Dockerfile -t ladder-worker-gpu .
#
# ladder-train links libtorch from a CUDA build of PyTorch (a pip wheel: it
# bundles CUDA and cuDNN; the node supplies only the driver, through the
# NVIDIA container toolkit). It is built alone (LADDER_TRAINER_ONLY: libtorch
# and nlohmann/json only) so the wheel's libtorch never meets Debian's gRPC.
# ladder-worker and ladder-sim are built on Debian's packages as usual.
ARG TORCH_VERSION=2.5.1
ARG TORCH_INDEX=https://download.pytorch.org/whl/cu124

# ---------------------------------------------------------------- the daemon
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

# ---------------------------------------------------------------- the trainer
FROM debian:12 AS train
ARG TORCH_VERSION
ARG TORCH_INDEX
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build ca-certificates nlohmann-json3-dev \
      python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
# The wheel lives at the same path in the runtime image, so ladder-train's
# RPATH into it holds there too.
RUN python3 -m venv /opt/torch \
 && /opt/torch/bin/pip install --no-cache-dir "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX}"
WORKDIR /src
COPY . .
RUN cmake -S . -B build-train -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DLADDER_TRAINER_ONLY=ON -DLADDER_BUILD_TESTS=OFF \
      -DCMAKE_PREFIX_PATH="$(/opt/torch/bin/python -c 'import torch; print(torch.utils.cmake_prefix_path)')" \
 && ninja -C build-train ladder-train

# ---------------------------------------------------------------- runtime
FROM debian:12-slim
COPY --from=build /runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates tini $(cat /tmp/runtime-packages.txt) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent ladder \
 && install -d -o 10001 -g 10001 /var/lib/ladder/work /var/lib/ladder/data
COPY --from=train /opt/torch /opt/torch
COPY --from=build /src/build/bin/ladder-worker /src/build/bin/ladder-sim /usr/local/bin/
COPY --from=train /src/build-train/bin/ladder-train /usr/local/bin/ladder-train
# The container toolkit mounts the driver's libraries and nvidia-smi.
ENV NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER 10001:10001
EXPOSE 9401
# ladder-train (next to ladder-worker) is the default trainer.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/ladder-worker"]
CMD ["--devices=cuda", "--work-dir=/var/lib/ladder/work", "--data-dir=/var/lib/ladder/data", \
     "--metrics-listen=0.0.0.0:9401"]
