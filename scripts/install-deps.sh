#!/usr/bin/env bash
# Installs every Debian package synod needs to build and test. Idempotent:
# packages already present are left alone; apt-get runs only when one is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libssl-dev libsodium-dev libzmq3-dev cppzmq-dev libcereal-dev doctest-dev liblmdb-dev
  libtomlplusplus-dev libcli11-dev libspdlog-dev libbenchmark-dev
  libcpp-httplib-dev gnuplot-nox python3
  iproute2 nftables
  clang-16 libc++-16-dev libc++abi-16-dev libclang-rt-16-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
