"""The served schema passes two standard OpenAPI linters: Redocly's and Spectral's recommended rules.

Both come from npm (tests/lint/package.json, installed by ``make test`` where npm is found).
Without them the test is skipped and says why, except in CI, where that is a failure.
"""

import os
import subprocess
from http import HTTPStatus
from pathlib import Path

import pytest
from rest_framework.test import APIClient

LINT = Path(__file__).parent / "lint"
BIN = LINT / "node_modules" / ".bin"


@pytest.fixture(scope="module")
def schema_file(tmp_path_factory):
    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == HTTPStatus.OK
    path = tmp_path_factory.mktemp("lint") / "openapi.json"
    path.write_bytes(response.content)
    return path


def linter(name):
    command = BIN / name
    if not command.exists():
        message = f"{name} is not installed: run `npm ci --prefix {LINT}` (make test does, where npm is found)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return command


def run(command, *args):
    result = subprocess.run([command, *args], cwd=LINT, capture_output=True, text=True, timeout=300)
    return result.returncode, result.stdout + result.stderr


def test_redocly_recommended_rules_find_no_error(schema_file):
    code, output = run(linter("redocly"), "lint", "--config", LINT / "redocly.yaml", "--format", "stylish", schema_file)
    assert code == 0, output
    assert " error " not in output, output


def test_spectral_recommended_rules_find_no_error(schema_file):
    code, output = run(
        linter("spectral"), "lint", "--ruleset", LINT / ".spectral.yaml", "--fail-severity", "error", schema_file
    )
    assert code == 0, output
    assert "0 errors" in output or "No results" in output, output
