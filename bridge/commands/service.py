"""`wabridge install-service [--instance NAME] [--print]`: the hardened systemd units.

One shop: `wabridge.service`, with this installation's paths. Many shops on one host: the
template `wabridge@.service`, one instance per workspace (/etc/wabridge/NAME/config.toml,
/var/lib/wabridge/NAME, user wabridge-NAME). Writing (not --print) also creates the system
user and the data dir owned by it, so the service never runs as root.
"""

from __future__ import annotations

import argparse
import os
import pwd
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bridge.commands.common import Context, err, out
from bridge.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE

UNITS = Path(__file__).resolve().parent.parent / "systemd"
SINGLE_UNIT = UNITS / "wabridge.service"
TEMPLATE_UNIT = UNITS / "wabridge@.service"
DOCS = UNITS / "README.md"
INSTANCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")  # also part of a user name (32 chars max)
HIDDEN_BY_PROTECT_HOME = (Path("/home"), Path("/root"), Path("/run/user"))


@dataclass(frozen=True, slots=True)
class UnitPlan:
    """What one install-service call writes and prepares."""

    text: str
    path: Path
    user: str
    config: Path
    data_dir: Path
    enable: str


def _executable() -> Path:
    found = shutil.which("wabridge")
    return Path(found) if found else Path(sys.executable).with_name("wabridge")


def _under_home(path: Path) -> bool:
    return any(path == base or base in path.parents for base in HIDDEN_BY_PROTECT_HOME)


def plan_unit(ctx: Context, instance: str | None, unit_dir: Path) -> UnitPlan:
    """Render the unit (or the template) for this installation."""
    exe = _executable()
    if instance is None:
        config = ctx.config.source.resolve() if ctx.config.source else Path.cwd() / "config.toml"
        data_dir = ctx.config.store.data_dir.resolve()
        user, template, path, enable = "wabridge", SINGLE_UNIT, unit_dir / "wabridge.service", "wabridge"
    else:
        config = Path("/etc/wabridge") / instance / "config.toml"
        data_dir = Path("/var/lib/wabridge") / instance
        user, template = f"wabridge-{instance}", TEMPLATE_UNIT
        path, enable = unit_dir / "wabridge@.service", f"wabridge@{instance}"
    # ProtectHome=true hides /home and /root; an installation living there needs to read them.
    protect_home = "read-only" if any(_under_home(p) for p in (exe, config, data_dir)) else "true"
    text = template.read_text(encoding="utf-8")
    for marker, value in (("@WABRIDGE@", str(exe)), ("@CONFIG@", str(config)), ("@USER@", user),
                          ("@DATA_DIR@", str(data_dir)), ("@DOCS@", str(DOCS)), ("@PROTECT_HOME@", protect_home)):
        text = text.replace(marker, value)
    return UnitPlan(text, path, user, config, data_dir, enable)


def _warnings(ctx: Context, plan: UnitPlan, instance: str | None) -> list[str]:
    problems = []
    if not plan.config.is_file():
        problems.append(f"warning: the unit reads {plan.config}, which does not exist yet: create it "
                        f"(see config.example.toml) before starting the service")
    if instance is not None and ctx.config.store.data_dir.resolve() != plan.data_dir:
        problems.append(f"warning: instance {instance} keeps its data in {plan.data_dir}: set "
                        f'[store].data_dir = "{plan.data_dir}" in {plan.config}')
    if instance is None and _under_home(plan.data_dir):
        problems.append(f"warning: the data dir {plan.data_dir} is under a home directory; "
                        f"/var/lib/wabridge is the service's own (StateDirectory=)")
    return problems


def _ensure_user(user: str, home: Path) -> None:
    try:
        pwd.getpwnam(user)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--home-dir", str(home), "--no-create-home",
                        "--shell", "/usr/sbin/nologin", user], check=True, capture_output=True, text=True)
        out(f"created system user {user}")


def _own_data_dir(user: str, data_dir: Path) -> None:
    entry = pwd.getpwnam(user)
    data_dir.parent.mkdir(parents=True, exist_ok=True)  # 0755: /var/lib/wabridge holds the instances' dirs
    data_dir.mkdir(exist_ok=True, mode=0o700)
    for root, dirs, files in os.walk(data_dir):
        for name in (root, *(os.path.join(root, d) for d in dirs), *(os.path.join(root, f) for f in files)):
            os.chown(name, entry.pw_uid, entry.pw_gid)


def cmd_install_service(ctx: Context, args: argparse.Namespace) -> int:
    """Write the systemd unit (or print it with --print)."""
    instance = args.instance
    if instance is not None and not INSTANCE_NAME.match(instance):
        err(f"--instance {instance!r}: use 1-32 lowercase letters, digits, '-' or '_' (it names a user too)")
        return EXIT_USAGE
    plan = plan_unit(ctx, instance, Path(args.unit_dir))
    for problem in _warnings(ctx, plan, instance):
        err(problem)
    if args.print:
        sys.stdout.write(plan.text)
        return EXIT_OK
    try:
        _ensure_user(plan.user, plan.data_dir)
        _own_data_dir(plan.user, plan.data_dir)
        plan.path.write_text(plan.text, encoding="utf-8")
    except subprocess.CalledProcessError as exc:
        err(f"cannot create the user {plan.user}: {exc.stderr.strip() or exc}")
        return EXIT_FAILED
    except OSError as exc:
        err(f"cannot write {plan.path}: {exc} (run as root, or use --print and copy it yourself)")
        return EXIT_FAILED
    out(f"wrote {plan.path}; {plan.data_dir} belongs to {plan.user}")
    out(f"now run: systemctl daemon-reload && systemctl enable --now {plan.enable}")
    out(f"logs: journalctl -u {plan.enable} -f    status: systemctl status {plan.enable}")
    out(f"commands as the service's user: sudo -u {plan.user} {_executable()} --config {plan.config} …")
    return EXIT_OK


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `install-service`."""
    p = sub.add_parser("install-service", parents=[common], help="install the hardened systemd unit",
                       description="Write /etc/systemd/system/wabridge.service for this installation (or, with "
                                   "--instance NAME, the template wabridge@.service for one workspace per "
                                   "instance), create its system user and data dir.")
    p.add_argument("--instance", metavar="NAME",
                   help="one workspace of several on this host: /etc/wabridge/NAME/config.toml, "
                        "/var/lib/wabridge/NAME, user wabridge-NAME")
    p.add_argument("--unit-dir", default="/etc/systemd/system", help="where to write the unit")
    p.add_argument("--print", action="store_true", help="print the unit instead of writing it")
    p.set_defaults(func=cmd_install_service)
