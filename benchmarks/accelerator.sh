#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One command for a GPU (or TPU) session: install what is missing, run the full
# benchmark suite, plot, and leave results/<device>.json, the PNGs and a log in
# one folder (results/, or $OUT when set), within about 10 minutes.
#
#   bash benchmarks/accelerator.sh            # on the accelerator machine
#
# JAX with an accelerator plugin is used as it is when present; otherwise the
# CUDA build is installed ("jax[cuda13]", or "jax[cuda12]" for older drivers).
# Wheels in .whl/ (for machines without an index) are installed first.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-results}"
mkdir -p "$out"
log="$out/accelerator.log"
exec > >(tee "$log") 2>&1
export PYTHONUNBUFFERED=1
py="${PYTHON:-python3}"

if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  "$py" -m pip install -q --no-index --no-deps --target /tmp/jaxns-site .whl/*.whl \
    && export PYTHONPATH="/tmp/jaxns-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

backend=$("$py" -c 'import jax; print(jax.default_backend())' 2>/dev/null || echo none)
if [ "$backend" = "cpu" ] || [ "$backend" = "none" ]; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)
    extra="cuda13"; [ "${driver%%.*}" -lt 580 ] 2>/dev/null && extra="cuda12"
    echo "installing jax[$extra] (driver $driver)"
    "$py" -m pip install -q -U "jax[$extra]" optax || echo "install failed: running on $backend"
  fi
fi
"$py" -c 'import jax; print("devices:", jax.devices())'

# The bench extra (gensim: skip-gram's peer; flax: the retrieval benchmark's
# towers; matplotlib: the plots), installed from pyproject.toml's requirement
# strings, so that nothing is built (the benchmarks run from this checkout),
# after JAX so that pip keeps the accelerator build.
if ! "$py" -c 'import flax, gensim, matplotlib' >/dev/null 2>&1; then
  bench=$("$py" - <<'PY'
import tomllib

with open("pyproject.toml", "rb") as f:
    extras = tomllib.load(f)["project"]["optional-dependencies"]


def expand(name):
    for req in extras[name]:
        if req.startswith("jax-negsampling["):
            for inner in req[req.index("[") + 1 : req.index("]")].split(","):
                yield from expand(inner.strip())
        else:
            yield req


print(" ".join(dict.fromkeys(expand("bench"))))
PY
)
  links=""; [ -d .whl ] && links="--find-links .whl"
  echo "installing the bench extra: $bench"
  # shellcheck disable=SC2086  # one word per requirement
  "$py" -m pip install -q $links $bench \
    || echo "could not install the bench extra: peers and plots that need it are skipped"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true

slug=$("$py" -c 'import jax; k=jax.devices()[0].device_kind; print("".join(c if c.isalnum() else "-" for c in k.lower()).strip("-"))')
json="$out/$slug.json"
"$py" benchmarks/run.py --suite full --timeout 180 --budget 480 --out "$json"
status=$?
"$py" benchmarks/plot.py "$json" -o "$out"
echo "run.py exit $status; results in $out: $(ls "$out" | tr '\n' ' ')"
exit $status
