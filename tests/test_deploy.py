"""The deployment files say what the README promises: the Dockerfile, its .dockerignore, deploy/compose.yaml,
deploy/imagebot.service and the settings file both read. Pure file checks (no Docker daemon is needed or used);
`systemd-analyze verify` runs on the unit where the machine has it."""

from __future__ import annotations

import fnmatch
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
GRACE = Settings().shutdown_grace_seconds  # IMAGEBOT_SHUTDOWN_GRACE_SECONDS' default


# parsing ---------------------------------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    instructions, pending = [], ""
    for raw in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        name, _, args = whole.partition(" ")
        instructions.append((name.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile()
    last = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    return instructions[last:]


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    """ENV in KEY=value form (several per instruction)."""
    env: dict[str, str] = {}
    for name, args in stage:
        if name == "ENV":
            for word in shlex.split(args):
                key, _, value = word.partition("=")
                env[key] = value
    return env


def exec_form(args: str) -> list[str]:
    """The JSON (exec) form of CMD / HEALTHCHECK CMD / VOLUME."""
    return yaml.safe_load(args)  # JSON is YAML


def unit() -> dict[str, list[tuple[str, str]]]:
    """A systemd unit as {section: [(key, value), ...]}: keys may repeat (SystemCallFilter=, Environment=)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in (DEPLOY / "imagebot.service").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
            continue
        assert current is not None, f"{line!r} is outside any section"
        key, _, value = line.partition("=")
        current.append((key.strip(), value.strip()))
    return sections


def unit_value(section: str, key: str) -> str:
    values = [v for k, v in unit()[section] if k == key]
    assert values, f"[{section}] has no {key}="
    return values[-1]


def unit_environment() -> dict[str, str]:
    env = {}
    for key, value in unit()["Service"]:
        if key == "Environment":
            env.update(word.split("=", 1) for word in shlex.split(value))
    return env


def seconds(duration: str) -> float:
    """Compose's and systemd's "75s", "1m30s", "90" as seconds."""
    if re.fullmatch(r"[0-9.]+", duration):
        return float(duration)
    parts = re.findall(r"([0-9.]+)\s*(ms|s|m|min|h)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration.replace(" ", ""), duration
    scale = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600}
    return sum(float(n) * scale[u] for n, u in parts)


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


# Dockerfile ------------------------------------------------------------------------------------------------


def test_dockerfile_builds_on_a_slim_python_in_stages() -> None:
    instructions = dockerfile()
    args = {a.partition("=")[0]: a.partition("=")[2] for n, a in instructions if n == "ARG"}
    bases = [re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], a.split()[0]) for n, a in instructions if n == "FROM"]
    assert len(bases) == 2 and all(re.fullmatch(r"python:3\.1[12]-slim", b) for b in bases), bases
    assert any(n == "COPY" and "--from=build" in a for n, a in final_stage()), "the final stage copies the build"


def test_dockerfile_runs_as_a_fixed_non_root_user() -> None:
    users = [a for n, a in final_stage() if n == "USER"]
    assert users, "no USER in the final stage: the container would run as root"
    user = users[-1].split(":")[0]
    assert re.fullmatch(r"[0-9]+", user) and int(user) >= 1000, f"USER {users[-1]}: want a fixed uid, not root"


def test_dockerfile_keeps_data_in_a_volume_and_checks_readiness_on_the_loopback_ops_port() -> None:
    stage = final_stage()
    env = env_of(stage)
    assert env["PYTHONUNBUFFERED"] == "1"
    data = env["IMAGEBOT_DATA_DIR"]
    volumes = [v for n, a in stage if n == "VOLUME" for v in exec_form(a)]
    assert data in volumes, f"IMAGEBOT_DATA_DIR={data} is not a VOLUME ({volumes})"
    exposed = [a.split("/")[0] for n, args in stage if n == "EXPOSE" for a in args.split()]
    assert env["PORT"] in exposed

    [healthcheck] = [a for n, a in stage if n == "HEALTHCHECK"]
    options, _, command = healthcheck.partition("CMD ")
    probe = " ".join(exec_form(command))
    assert "curl" not in probe and "urllib.request" in probe  # slim images have no curl
    # /readyz (503 while Socket Mode is down, Slack refuses the token or the database is stuck), not /healthz (200
    # through all of that), on the ops port, which listens on loopback: the probe runs inside the container.
    assert "http://127.0.0.1:%s/readyz" in probe and "'IMAGEBOT_OPS_PORT'" in probe
    assert env["IMAGEBOT_OPS_PORT"] == str(Settings().ops_port) and env["IMAGEBOT_OPS_PORT"] not in exposed
    assert "IMAGEBOT_OPS_HOST" not in env  # loopback, the setting's default
    assert re.search(r"timeout=\d", probe), "the probe's own request needs a timeout"
    assert "--timeout=" in options and "--interval=" in options

    [stop] = [a for n, a in stage if n == "STOPSIGNAL"]
    assert stop == "SIGTERM"
    [cmd] = [a for n, a in stage if n == "CMD"]
    assert "exec imagebot serve --port \"$PORT\"" in exec_form(cmd)[-1]  # exec: imagebot itself gets SIGTERM


def test_dockerfile_copies_everything_the_wheel_needs_and_dockerignore_lets_it_through() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    needed = {"pyproject.toml", project["project"]["readme"], *packages}
    copied = set()
    for name, args in dockerfile():
        if name == "COPY" and "--from" not in args:
            copied.update(p.rstrip("/").removeprefix("./") for p in args.split()[:-1])
    assert needed <= copied, f"the build stage does not copy {needed - copied}"
    for path in copied:
        assert (ROOT / path).exists(), path

    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")]

    def ignored(path: str) -> bool:
        """Docker's rule: a pattern covers a path when it matches the path or a folder above it (`**/` at any
        depth); the last pattern that covers it decides (`!` lets it back in)."""
        result = False
        parts = path.split("/")
        for pattern in patterns:
            negated, bare = pattern.startswith("!"), pattern.lstrip("!").rstrip("/")
            anywhere = bare.startswith("**/")
            spans = [(i, j) for i in range(len(parts) if anywhere else 1) for j in range(i + 1, len(parts) + 1)]
            if any(fnmatch.fnmatchcase("/".join(parts[i:j]), bare.removeprefix("**/")) for i, j in spans):
                result = not negated
        return result

    for path in copied:
        assert not ignored(path), f".dockerignore leaves out {path}, which the Dockerfile copies"
    for secret in (".env", "data/imagebot.db", ".venv/bin/python", ".git/config", "bot/.env", "imagebot-sandbox/x",
                   "bot/__pycache__/cli.cpython-311.pyc", "tests/conftest.py"):
        assert ignored(secret), f".dockerignore lets {secret} into the build context"


# compose ---------------------------------------------------------------------------------------------------


def test_compose_runs_the_image_with_settings_a_volume_and_a_graceful_stop() -> None:
    spec = compose()
    service = spec["services"]["imagebot"]
    build = service["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == ROOT / "Dockerfile"
    env_files = [e if isinstance(e, str) else e["path"] for e in service["env_file"]]
    assert env_files and all((DEPLOY / f"{f}.example").is_file() for f in env_files)
    data = service["environment"]["IMAGEBOT_DATA_DIR"]
    assert data == env_of(final_stage())["IMAGEBOT_DATA_DIR"]
    named = [v.split(":")[0] for v in service["volumes"] if v.split(":")[1] == data]
    assert named and named[0] in spec["volumes"], "the data dir is not on a named volume"
    assert service["restart"] in ("unless-stopped", "always", "on-failure")
    assert service["stop_signal"] == "SIGTERM"
    assert seconds(service["stop_grace_period"]) > GRACE, "Docker would kill jobs still inside their grace"
    assert "$$PORT" in service["command"][-1]  # $$: the container's $PORT, not the host's

    health = service["healthcheck"]
    probe = " ".join(health["test"])
    assert health["test"][0] == "CMD" and "urllib.request" in probe
    assert "http://127.0.0.1:%s/readyz" in probe and "'IMAGEBOT_OPS_PORT'" in probe
    assert all(k in health for k in ("interval", "timeout", "retries"))
    published = [p.split(":") for p in service["ports"]]
    assert all(p[0] == "127.0.0.1" for p in published), "publish on loopback only; a proxy fronts HTTP mode"
    assert [p[1] for p in published] == [env_of(final_stage())["PORT"]], "the ops port is not published"
    assert not {"IMAGEBOT_OPS_HOST", "IMAGEBOT_OPS_PORT"} & set(service["environment"])  # imagebot.env may set them


# systemd ---------------------------------------------------------------------------------------------------


def test_systemd_unit_runs_the_venv_with_hardening_and_a_stop_timeout_above_the_grace() -> None:
    exec_start = shlex.split(unit_value("Service", "ExecStart"))
    assert exec_start[:2] == ["/opt/imagebot/bin/imagebot", "serve"]
    assert unit_value("Service", "EnvironmentFile").lstrip("-").startswith("/etc/imagebot/")
    assert unit_value("Service", "Restart") == "on-failure"
    assert seconds(unit_value("Service", "TimeoutStopSec")) > GRACE
    assert unit_value("Service", "KillSignal") == "SIGTERM"
    assert unit_value("Service", "NoNewPrivileges") == "yes"
    assert unit_value("Service", "ProtectSystem") == "strict"
    state = unit_value("Service", "StateDirectory")
    data = unit_environment()["IMAGEBOT_DATA_DIR"]
    assert data == f"/var/lib/{state}", "the data dir is the unit's state directory"
    assert data in unit_value("Service", "ReadWritePaths").split()
    keys = {k for k, _ in unit()["Service"]}
    assert unit_value("Service", "DynamicUser") == "yes" or "User" in keys
    assert unit_value("Install", "WantedBy") == "multi-user.target"


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here")
    # verify insists that ExecStart's program exists, and /opt/imagebot is not installed on a test machine:
    # a copy with the same name and the program swapped for /bin/true (arguments kept) checks everything else.
    text = (DEPLOY / "imagebot.service").read_text(encoding="utf-8")
    copy = tmp_path / "imagebot.service"
    copy.write_text(text.replace("ExecStart=/opt/imagebot/bin/imagebot ", "ExecStart=/bin/true "), encoding="utf-8")
    assert copy.read_text(encoding="utf-8") != text
    probe = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0 and "imagebot.service" not in probe.stderr:
        pytest.skip(f"systemd-analyze cannot verify units here: {probe.stderr.strip()[:200]}")
    # Unknown keys and unparsable values are only warnings (exit status 0): any output is a finding.
    assert probe.returncode == 0 and not probe.stderr.strip() and not probe.stdout.strip(), probe.stderr


# the settings file both read -------------------------------------------------------------------------------


def test_env_example_is_read_by_imagebot_and_names_only_documented_settings(tmp_path: Path) -> None:
    example = DEPLOY / "imagebot.env.example"
    text = example.read_text(encoding="utf-8")
    names = re.findall(r"^#?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert names and all(f"`{name}`" in readme for name in names), [n for n in names if f"`{n}`" not in readme]
    assert "IMAGEBOT_DATA_DIR" not in names  # the container and the unit set it; the file would override it
    for line in text.splitlines():  # what both Docker's env_file and systemd's EnvironmentFile understand
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*=[^\"'#\s][^\"'#]*", line), line
    settings = Settings.from_env({}, dotenv=example)
    assert settings.slack_bot_token and settings.slack_app_token and settings.provider == "openai"
