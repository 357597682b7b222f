"""The root conftest's log guard: an undeclared WARNING fails a test, a declared one not."""

from pathlib import Path

CONFTEST = (Path(__file__).resolve().parents[1] / "conftest.py").read_text(encoding="utf-8")

SAMPLES = """
import logging

import pytest

log = logging.getLogger("app.sample")


def test_quiet():
    log.info("fine")


def test_undeclared_warning():
    log.warning("disk is full")


@pytest.mark.expect_log("app.sample", r"disk is full")
def test_declared_warning():
    log.warning("disk is full")


@pytest.mark.expect_log("app.sample", r"disk is full")
def test_declared_warning_but_an_error_too():
    log.warning("disk is full")
    log.error("something else broke")


def test_declared_at_run_time(expect_log):
    expect_log("app", "port lost", level="ERROR")
    log.error("serial port lost")


@pytest.mark.expect_log("app.sample", r"disk", level="ERROR")
def test_a_declared_error_does_not_cover_a_warning():
    log.warning("disk is full")
"""


def test_only_declared_warnings_pass(pytester):
    pytester.makeconftest(CONFTEST.replace('pytest_plugins = ["pytester"]', ""))
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_samples=SAMPLES)
    # In a process of its own: the sample records must not reach this test's own guard.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=6, errors=3)  # the guard fails in teardown: an error
    out = str(result.stdout)
    failed = {"test_undeclared_warning", "test_declared_warning_but_an_error_too"}
    failed.add("test_a_declared_error_does_not_cover_a_warning")
    for name in failed:
        assert f"ERROR at teardown of {name} " in out
    for name in ("test_quiet", "test_declared_warning", "test_declared_at_run_time"):
        assert f"ERROR at teardown of {name} " not in out
    assert "unexpected WARNING-or-worse log record(s)" in out
