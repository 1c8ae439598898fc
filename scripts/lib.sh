# Shared by scripts/*: a project venv and the Debian services the tests need.
VENV=${IFPULSE_VENV:-.venv}

step() { printf '\n==> %s\n' "$*"; }

# Install Debian packages whose binary is missing: ensure_binaries mosquitto:mosquitto ...
ensure_binaries() {
  local missing=() pair bin
  for pair in "$@"; do
    bin=${pair%%:*}
    command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    step "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing ${missing[*]}: run \`sudo apt-get install -y ${missing[*]}\` first" >&2
    return 1
  fi
}

# Create/refresh the venv with the package installed (editable) and the given extra.
ensure_venv() {
  local extra=$1 py=${PYTHON:-python3}
  if [ ! -x "$VENV/bin/python" ]; then
    step "python venv in $VENV"
    "$py" -m venv "$VENV"
  fi
  step "pip install -e .[$extra]"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[$extra]"
}
