#!/bin/sh
# Install the Debian packages ringpipe needs to build, test and benchmark.
# A no-op when everything is present; otherwise uses apt-get (as root, or
# through sudo when that is available without a password).
set -eu

need_pc="libseccomp cunit yaml-0.1 libxxhash"
need_cmd="gcc make pkg-config ps"
pkgs=""

for c in $need_cmd; do
	command -v "$c" >/dev/null 2>&1 || case "$c" in
		gcc) pkgs="$pkgs gcc libc6-dev" ;;
		make) pkgs="$pkgs make" ;;
		pkg-config) pkgs="$pkgs pkg-config" ;;
		ps) pkgs="$pkgs procps" ;; # (a test runs ps as a parser)
	esac
done
if command -v pkg-config >/dev/null 2>&1; then
	for m in $need_pc; do
		pkg-config --exists "$m" 2>/dev/null || case "$m" in
			libseccomp) pkgs="$pkgs libseccomp-dev" ;;
			cunit) pkgs="$pkgs libcunit1-dev" ;;
			yaml-0.1) pkgs="$pkgs libyaml-dev" ;;
			libxxhash) pkgs="$pkgs libxxhash-dev" ;;
		esac
	done
else
	pkgs="$pkgs libseccomp-dev libcunit1-dev libyaml-dev libxxhash-dev"
fi
# Optional extras named on the command line (for example: gnuplot-nox for
# `make bench`'s plot), installed only when their command is missing.
for extra in "$@"; do
	case "$extra" in
		gnuplot-nox) command -v gnuplot >/dev/null 2>&1 || pkgs="$pkgs gnuplot-nox" ;;
		*) dpkg -s "$extra" >/dev/null 2>&1 || pkgs="$pkgs $extra" ;;
	esac
done

[ -z "$pkgs" ] && exit 0

echo "ringpipe: installing missing packages:$pkgs" >&2
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	SUDO="sudo -n"
else
	echo "ringpipe: need root to install:$pkgs (run: sudo apt-get install$pkgs)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq </dev/null >&2 || true
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $pkgs </dev/null >&2
