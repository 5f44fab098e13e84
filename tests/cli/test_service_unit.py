"""`wabridge install-service --print [--instance NAME]`: units that systemd accepts and rates
at most 3.0 exposure (`systemd-analyze verify` and `security --offline=true`)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed "
                                   "(.ci/run installs Debian's systemd package for it)")
MAX_EXPOSURE = 3.0


def install_service(config: Path | None, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    bin_dir = str(Path(sys.executable).parent)
    chosen = ["--config", str(config)] if config else []
    return subprocess.run([sys.executable, "-m", "bridge.cli", *chosen, "install-service", "--print", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={"PATH": f"{bin_dir}:/usr/bin:/bin", "PYTHONPATH": str(ROOT)})


def write_config(path: Path, data_dir: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[store]\ndata_dir = "{data_dir}"\n', encoding="utf-8")
    return path


def analyze(unit: Path) -> float:
    """Verify the unit, then return its exposure rating."""
    assert ANALYZE is not None
    verify = subprocess.run([ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stderr
    problems = [line for line in verify.stderr.splitlines() if unit.name in line]
    assert not problems, problems
    security = subprocess.run([ANALYZE, "security", "--offline=true", f"--threshold={int(MAX_EXPOSURE * 10)}",
                               str(unit)], capture_output=True, text=True, timeout=60)
    score = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", security.stdout)
    assert score, security.stdout + security.stderr
    assert security.returncode == 0, security.stdout  # --threshold fails above 3.0
    return float(score.group(1))


@needs_analyze
def test_the_single_shop_unit_verifies_and_rates_at_most_3(tmp_path: Path) -> None:
    config = write_config(tmp_path / "etc" / "config.toml", "/var/lib/wabridge")
    done = install_service(config)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    unit = tmp_path / "wabridge.service"
    unit.write_text(done.stdout, encoding="utf-8")
    assert analyze(unit) <= MAX_EXPOSURE
    text = done.stdout
    assert not re.search(r"@[A-Z_]+@", text)  # every marker filled in
    assert f"--config {config} run" in text and "User=wabridge\n" in text
    assert "CapabilityBoundingSet=\n" in text and "SystemCallFilter=@system-service" in text
    assert "ReadWritePaths=/var/lib/wabridge\n" in text
    docs = re.search(r"^Documentation=file://(\S+)$", text, re.M)
    assert docs and Path(docs.group(1)).is_file()


@needs_analyze
def test_a_workspace_instance_of_the_template_verifies_and_rates_at_most_3(tmp_path: Path) -> None:
    config = write_config(tmp_path / "tokoa.toml", "/var/lib/wabridge/tokoa")
    done = install_service(config, "--instance", "tokoa")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "--config /etc/wabridge/%i/config.toml run" in text
    assert "User=wabridge-%i" in text and "StateDirectory=wabridge/%i" in text
    unit = tmp_path / "wabridge@tokoa.service"  # what systemd instantiates from the template
    unit.write_text(text, encoding="utf-8")
    assert analyze(unit) <= MAX_EXPOSURE


def test_print_warns_when_the_config_it_names_does_not_exist(tmp_path: Path) -> None:
    config = write_config(tmp_path / "elsewhere.toml", str(tmp_path / "data"))
    done = install_service(config, "--instance", "shop2")
    assert done.returncode == 0
    assert "/etc/wabridge/shop2/config.toml, which does not exist" in done.stderr
    assert 'data_dir = "/var/lib/wabridge/shop2" in /etc/wabridge/shop2/config.toml' in done.stderr
    done = install_service(None, "--data-dir", "/var/lib/wabridge", cwd=tmp_path)  # no ./config.toml here
    assert f"the unit reads {tmp_path / 'config.toml'}, which does not exist" in done.stderr


def test_a_home_directory_installation_keeps_home_readable(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.toml", "/home/shop/wabridge-data")
    done = install_service(config)
    assert "ProtectHome=read-only" in done.stdout
    assert "under a home directory" in done.stderr


def test_instance_names_are_checked(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.toml", "/var/lib/wabridge")
    done = install_service(config, "--instance", "../etc")
    assert done.returncode == 2 and "--instance" in done.stderr
