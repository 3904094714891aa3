"""Redaction cannot be used to stall the event loop, and it does not mangle access-log lines.

Each pattern gets adversarial and random strings of growing length, up to 256 KB, each with a
generous time bound that grows linearly with its length. On a backtracking pattern the bound
fails at a few dozen characters already (24 digits and a letter took 1.3 s on the old phone
pattern), long before the bigger strings could hang the run. The time is the CPU time of the
thread doing the matching (`time.thread_time`), so a machine busy with other work (test files
run in parallel) does not count against the pattern.
"""

from __future__ import annotations

import io
import logging
import time

import pytest

from callwright.observe.redact import (
    ACCESS_LOGGER,
    MAX_TEXT_CHARS,
    PATTERNS,
    RedactingFilter,
    Redactor,
    mask_secrets,
    redact_access_line,
)
from tests.security.adversarial_text import adversarial, random_strings

LENGTHS = [16, 20, 24, 28, 64, 1024, 16 * 1024, 256 * 1024]


def bound_s(length: int) -> float:
    """Half a second plus 8 µs a character: ~100x what a linear pattern needs."""
    return 0.5 + 8e-6 * length


def _timed(fn: object, text: str) -> float:
    started = time.thread_time()
    fn(text)  # type: ignore[operator]
    return time.thread_time() - started


@pytest.mark.parametrize("kind", sorted(PATTERNS))
def test_every_pattern_is_linear_on_adversarial_strings(kind: str) -> None:
    pattern = PATTERNS[kind]
    for length in LENGTHS:
        for text in adversarial(length):
            took = _timed(lambda t: list(pattern.finditer(t)), text)
            assert took < bound_s(len(text)), (kind, len(text), text[:40], took)


@pytest.mark.parametrize("kind", sorted(PATTERNS))
def test_every_pattern_is_linear_on_random_strings(kind: str) -> None:
    pattern = PATTERNS[kind]
    for length in (1024, 64 * 1024, 256 * 1024):
        for text in random_strings(length, 3):
            took = _timed(lambda t: list(pattern.finditer(t)), text)
            assert took < bound_s(len(text)), (kind, len(text), took)


def test_the_whole_redactor_is_bounded_and_caps_text() -> None:
    redactor = Redactor().for_call({"caller_name": "Grace"})
    for text in adversarial(256 * 1024):
        started = time.thread_time()
        out = redactor.text(text)
        assert time.thread_time() - started < bound_s(MAX_TEXT_CHARS), text[:40]
        assert len(out) <= MAX_TEXT_CHARS + 64
    poison = "1" * 24 + "a"
    assert redactor.text(f"from {poison}") == f"from {poison}"  # no 7+ digit number ending it
    assert redactor.text("call 555 010 0100 now") == "call [PHONE] now"


def test_access_log_keeps_status_and_size_and_hides_tokens() -> None:
    redactor = Redactor()
    line = '127.0.0.1 [01/Dec/2026:21:59:06 +0000] "GET /metrics HTTP/1.1" 200 1234 "-" "curl/8"'
    assert redact_access_line(line, redactor) == line
    secret = "c2VjcmV0LXN0cmVhbS10b2tlbg.AbCdEf0123456789"
    line = (
        f'10.0.0.2 [01/Dec/2026:21:59:06 +0000] "GET /v1/twilio/stream/{secret}?token=s3cr3t'
        f'&page=2 HTTP/1.1" 101 0 "-" "caller 555 010 0100"'
    )
    out = redact_access_line(line, redactor)
    assert secret not in out and "s3cr3t" not in out and "0100" not in out
    assert out.startswith('10.0.0.2 [01/Dec/2026:21:59:06 +0000] "GET /v1/twilio/stream/[SECRET]')
    assert '&page=2 HTTP/1.1" 101 0 ' in out
    assert mask_secrets("/x?access_token=abc&api_key=def") == (
        "/x?access_token=[SECRET]&api_key=[SECRET]"
    )
    # A latency figure is no credential; a token of digits (or starting like a number) is.
    assert mask_secrets("ttfa_ms=396.4 first_token=212.4 tts=0.5") == (
        "ttfa_ms=396.4 first_token=212.4 tts=0.5"
    )
    assert mask_secrets("/x?token=123456&sig=12.5abc") == "/x?token=[SECRET]&sig=[SECRET]"


def test_log_filter_uses_the_access_line_rules_for_the_access_logger() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(Redactor()))
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        logger.info('%s "%s" %s %s', "127.0.0.1", "GET /metrics?token=abc HTTP/1.1", 200, 5550100)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert (
        stream.getvalue().strip() == '127.0.0.1 "GET /metrics?token=[SECRET] HTTP/1.1" 200 5550100'
    )
