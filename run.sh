#!/usr/bin/env bash
# callwright's one entry point for a fresh machine.
#   ./run.sh            set up if needed, then serve the clinic example agent on the embedded models
#                       (CALLWRIGHT_AGENT or --agent picks another)
#   ./run.sh test       set up if needed, then run the test suite (test files in parallel
#                       processes: CALLWRIGHT_TEST_WORKERS, default 4; `-n 0` runs in one process)
#   ./run.sh lint       set up if needed, then ruff (lint and format) and mypy
#   ./run.sh setup      only set up
#   ./run.sh <args>     anything else goes to the `callwright` command (e.g. ./run.sh call)
# Setup is idempotent: a stamp of the dependency files makes the second run start in seconds.
set -euo pipefail
cd "$(dirname "$0")"
VENV="${CALLWRIGHT_VENV:-.venv}"
PY="${PYTHON:-python3}"
STAMP="$VENV/.callwright-setup"

apt_install() {
    local missing=()
    command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
    # Caller voices the agent is not tuned on, for spoken tests, evals and benchmarks.
    command -v flite >/dev/null 2>&1 || missing+=(flite)
    command -v text2wave >/dev/null 2>&1 || missing+=(festival)
    [ -d /usr/share/festival/voices/us/cmu_us_slt_arctic_hts ] || missing+=(festvox-us-slt-hts)
    # PostgreSQL server binaries: the store contract tests start a throwaway cluster.
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
    # Headless Chromium for the browser tests (Playwright drives it; it never downloads a browser).
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    # nginx: the TLS proxy test runs the shipped deploy/nginx configuration in front of a worker.
    [ -x /usr/sbin/nginx ] || missing+=(nginx)
    # HAProxy: the balancer test runs the shipped deploy/haproxy configuration over two workers.
    [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
    # Real SIP peers for the SIP tests: SIPp, baresip (a softphone), Kamailio (the SIP edge).
    command -v sipp >/dev/null 2>&1 || missing+=(sip-tester)
    command -v baresip >/dev/null 2>&1 || missing+=(baresip)
    [ -x /usr/sbin/kamailio ] || missing+=(kamailio)
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "setup: installing Debian packages: ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

setup() {
    apt_install
    local want
    want="$(cat pyproject.toml run.sh | sha256sum | cut -d' ' -f1)"
    if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
        return 0
    fi
    echo "setup: creating $VENV and installing Python packages (first run takes a few minutes)" >&2
    [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e ".[piper,whisper-base,dev]"
    # silero-vad's metadata asks for torch, which its ONNX model does not need.
    "$VENV/bin/python" -m pip install -q --no-deps "silero-vad>=5.1"
    # The Smart Turn v3.2 end-of-turn model (BSD-2-Clause) is an ONNX file in Pipecat's wheel;
    # only the file is used (callwright/turns/smart_turn.py), so none of Pipecat's dependencies.
    "$VENV/bin/python" -m pip install -q --no-deps "pipecat-ai==1.14.0"
    echo "$want" >"$STAMP"
}

# The agent `serve` runs unless --agent says otherwise: the clinic receptionist example.
export CALLWRIGHT_AGENT="${CALLWRIGHT_AGENT:-examples/clinic/agent.py}"

cmd="${1:-serve}"
case "$cmd" in
    setup)
        setup
        ;;
    lint)
        setup
        "$VENV/bin/ruff" check .
        "$VENV/bin/ruff" format --check .
        "$VENV/bin/mypy" callwright examples tests bench
        ;;
    test)
        shift || true
        setup
        set +e
        # Most spoken tests wait on real-time audio rather than compute, so test files run in
        # parallel worker processes (pytest-xdist), each with its own models, servers, ports
        # and temp dirs. A file runs whole on one worker (loadfile); files start longest first
        # (tests/durations.py orders them; xdist's own reorder is off). A later `-n` wins.
        # A failed test runs once more (`--reruns 1`): spoken tests hear real models over
        # real-time audio on a shared machine, and a recogniser's "you" for "your" is not a
        # regression. The summary counts reruns ("N rerun"), so a flaky test stays in view;
        # one that fails twice fails the run. `--reruns 0` turns it off.
        "$VENV/bin/python" -m pytest -n "${CALLWRIGHT_TEST_WORKERS:-4}" --dist loadfile --no-loadscope-reorder --reruns 1 -m "not solo" "$@"
        rc=$?
        # Tests that load the machine on purpose (30 calls over three workers) run afterwards,
        # alone: beside them, every real-time test of the other processes starves, and they
        # starve too (a JUnit report of theirs goes beside the first, as NAME.solo.xml).
        solo_args=()
        for arg in "$@"; do
            case "$arg" in
                --junitxml=*.xml) solo_args+=("${arg%.xml}.solo.xml") ;;
                *) solo_args+=("$arg") ;;
            esac
        done
        "$VENV/bin/python" -m pytest -n 0 --reruns 1 -m solo "${solo_args[@]}"
        rc_solo=$?
        set -e
        if [ $rc -eq 5 ] && [ $rc_solo -eq 5 ]; then
            # pytest's 5 means "no tests collected": for this suite that is a broken run, not a pass.
            echo "run.sh: pytest collected no tests; failing on purpose" >&2
            exit 1
        fi
        # One pass collecting nothing (a file or -k that picks only one kind) is no failure.
        [ $rc -eq 5 ] && rc=0
        [ $rc_solo -eq 5 ] && rc_solo=0
        [ $rc -ne 0 ] && exit $rc
        exit $rc_solo
        ;;
    serve)
        shift || true
        setup
        exec "$VENV/bin/callwright" serve "$@"
        ;;
    *)
        setup
        exec "$VENV/bin/callwright" "$@"
        ;;
esac
