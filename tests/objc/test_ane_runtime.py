"""Loading the framework and resolving its classes (csrc/ane/ane_runtime.mm, ane_init.cpp).

Failure modes that would poison the process-wide framework slot (a missing class, a bad path before any
success) run in a subprocess, since a process can load only one framework (docs/internals/ane-private-api.md §3.1).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from _ane_samples import FAKE_NO_REQUEST_NAME, fake_library

pytestmark = pytest.mark.objc


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)


def test_constants(ane: ModuleType) -> None:
    assert ane.DEFAULT_QOS == 21
    assert ane.EXECUTION_PATHS == ("standard", "realtime", "process_request", "direct")
    assert ane.DEFAULT_FRAMEWORK_PATH.endswith("AppleNeuralEngine.framework/AppleNeuralEngine")


def test_runtime_info_describes_the_fake(fake: ModuleType, fake_path: Path) -> None:
    info = fake.runtime_info()
    assert info["built"]
    assert info["available"]
    assert info["is_fake"]
    assert info["reason"] == ""
    assert info["framework_path"] == str(fake_path)
    assert info["execution_paths"] == ["standard", "realtime", "process_request", "direct"]
    assert Path(info["model_root"]).is_dir()
    assert {"compiles", "evals", "liveModels", "liveIOSurfaces"} <= info["fake_stats"].keys()
    assert fake.is_available() == (True, "")


def test_same_path_again_is_a_no_op(fake: ModuleType, fake_path: Path) -> None:
    assert fake.initialize(str(fake_path)) == (True, "")


def test_other_path_after_success_is_refused_with_reason(fake: ModuleType) -> None:
    usable, why = fake.initialize("/System/Library/PrivateFrameworks/Other.framework/Other")
    assert not usable
    assert "already loaded" in why
    assert fake.is_available()[0], "the loaded framework stays usable"


def test_empty_path_is_a_value_error(ane: ModuleType) -> None:
    with pytest.raises(ValueError, match="framework_path is empty"):
        ane.initialize("")


def test_missing_framework_reports_dlopen_then_fake_loads(fake_path: Path) -> None:
    result = _run(
        "from anekit import _core\n"
        "ok, why = _core.ane.initialize('/nonexistent/AppleNeuralEngine')\n"
        "assert not ok and 'dlopen' in why, why\n"
        "assert _core.ane.is_available()[0] is False\n"
        "try:\n"
        "    _core.ane.compile('program(1.0)')\n"
        "except _core.ane.UnavailableError as e:\n"
        "    assert 'dlopen' in str(e), e\n"
        "else:\n"
        "    raise AssertionError('compile before initialize must fail')\n"
        f"assert _core.ane.initialize({str(fake_path)!r}) == (True, '')\n"
        "print('ok')\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_missing_private_class_is_named(ane: ModuleType) -> None:
    variant = fake_library(FAKE_NO_REQUEST_NAME)
    if variant is None:
        pytest.skip(f"{FAKE_NO_REQUEST_NAME} is not part of this build")
    result = _run(
        f"from anekit import _core\nok, why = _core.ane.initialize({str(variant)!r})\nprint(ok)\nprint(why)\n"
    )
    assert result.returncode == 0, result.stderr
    ok, why = result.stdout.splitlines()[:2]
    assert ok == "False"
    assert "_ANERequest" in why
    assert "did not resolve" in why


def test_fake_hooks_refuse_before_initialize() -> None:
    result = _run(
        "from anekit import _core\n"
        "try:\n"
        "    _core.ane.fake_stats()\n"
        "except _core.ane.UnavailableError as e:\n"
        "    print(e)\n"
    )
    assert result.returncode == 0, result.stderr
    assert "[ane::fake_stats]" in result.stdout
    assert "not initialised" in result.stdout
