# Sourced by scripts/test and scripts/bench: installs the pinned npm packages (Tencent's Chat
# SDK, its UserSig generator, ws) into node_modules with `npm ci` whenever package-lock.json
# changes. Needs Node.js 20+ and npm.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "error: Node.js 20+ and npm are needed (the Tencent Chat SDK tests run under Node); install them and run again" >&2
    exit 1
fi
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
    echo "error: Node.js $(node --version) is too old; the Tencent Chat SDK tests need Node.js 20+" >&2
    exit 1
fi
node_stamp="node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)"
if [ ! -f "$node_stamp" ]; then
    echo "setup: npm ci (Tencent's Chat SDK and tls-sig-api-v2, pinned in package-lock.json)" >&2
    npm ci --no-audit --no-fund --loglevel=error >&2
    touch "$node_stamp"
fi
