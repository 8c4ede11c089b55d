"""schemathesis over the whole published schema of a real `postroom serve`, with an
authenticated token and every check: no server error; no status code, content type or
body the schema does not promise; every request the schema calls well formed accepted
(or refused by the domain with a documented 400/403/404/409/429), and every malformed
one refused (schemathesis.toml says which answers count). tests/api/test_schema_truth.py
keeps one case of each kind the fuzzer found, fast."""

import os
import re
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from postroom.api.models import ApiToken
from tests.delivery.processes import wait_for

pytestmark = pytest.mark.slow
CONFIG = Path(__file__).with_name("schemathesis.toml")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_the_fuzzer_finds_no_server_error_and_no_conformance_failure(
    subprocess_env, owner, tmp_path
):
    _, token = ApiToken.issue(owner, "fuzz")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "postroom.cli", "serve", "--port", str(port)],
        env=subprocess_env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "serve.log", "w"),  # noqa: SIM115
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: answers(f"{base}/api/health"), 60), "the server never answered"
        run = subprocess.run(
            [
                sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG),
                "--no-color", "run", f"{base}/api/openapi.json", "--checks", "all",
                "-H", f"Authorization: Bearer {token}",
                "--max-examples", os.environ.get("POSTROOM_FUZZ_EXAMPLES", "25"), "--seed", "1",
            ],
            capture_output=True, text=True, timeout=900, cwd=tmp_path,
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(30)
    (tmp_path / "fuzz.out").write_text(run.stdout + run.stderr)
    summary = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, summary
    generated = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    assert generated and generated.group(1) == generated.group(2), summary
    assert int(generated.group(1)) > 500, summary  # it really ran over the whole schema
    print(summary[-600:])
