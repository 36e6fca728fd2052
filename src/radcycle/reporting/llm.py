"""Drafting models behind one small interface: an OpenAI-compatible HTTP server, or
llama.cpp in process with a user-supplied GGUF file.

A backend takes the prompt (facts and the deterministic outline as JSON text,
never pixels) and the JSON Schema the answer must follow, and returns the answer's
text. The HTTP backend speaks ``/v1/chat/completions`` as served by llama.cpp's
``llama-server``, vLLM and Ollama, asks for ``response_format`` ``json_schema``,
and retries with exponential backoff on timeouts, connection errors and 5xx
answers. Every failure is a :class:`DraftingError`; the caller then keeps the
deterministic draft.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from radcycle.errors import AnalysisError, InputError

__all__ = [
    "DraftBackend",
    "DraftingError",
    "HttpBackend",
    "HttpSettings",
    "LlamaCppBackend",
    "check_gguf",
    "draft_schema",
    "parse_draft",
]

log = logging.getLogger(__name__)


def draft_schema(
    sentence_ids: Sequence[str], fact_ids: Sequence[str], max_chars: int = 400
) -> dict[str, Any]:
    """The answer's JSON Schema: one sentence per outline id, citing only known facts.

    Example:
        >>> schema = draft_schema(["s1"], ["f-1"])
        >>> schema["properties"]["sentences"]["maxItems"]
        1
    """
    return {
        "type": "object",
        "properties": {
            "sentences": {
                "type": "array",
                "maxItems": len(sentence_ids),
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"enum": list(sentence_ids)},
                        "text": {"type": "string", "maxLength": max_chars},
                        "fact_ids": {
                            "type": "array",
                            "maxItems": 12,
                            "items": {"enum": list(fact_ids)},
                        },
                    },
                    "required": ["id", "text", "fact_ids"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["sentences"],
        "additionalProperties": False,
    }


_GGUF_MAGIC = b"GGUF"
_RETRY_STATUS = (429, 500, 502, 503, 504)


class DraftingError(AnalysisError):
    """A drafting model that is down, too slow, or answers what cannot be used."""


class DraftBackend(Protocol):
    """What the drafting step needs of a model."""

    @property
    def name(self) -> str:
        """``"llm:<model>"``, recorded as the report's writer."""
        ...

    def complete(self, system: str, prompt: str, schema: Mapping[str, Any]) -> str:
        """The model's answer text to ``prompt`` under ``schema``."""
        ...


@dataclass(frozen=True)
class HttpSettings:
    """How to reach an OpenAI-compatible server.

    Args:
        base_url: e.g. ``http://127.0.0.1:8080`` (``/v1`` is added if missing);
            default ``RADCYCLE_LLM_URL``.
        model: model name sent; default ``RADCYCLE_LLM_MODEL`` or ``"default"``.
        api_key: bearer token; default ``RADCYCLE_LLM_KEY`` (never logged).
        timeout_s: per request.
        retries: further tries after the first.
        backoff_s: first wait; doubled at each retry.
        max_tokens: answer length limit.
    """

    base_url: str
    model: str = "default"
    api_key: str | None = None
    timeout_s: float = 60.0
    retries: int = 2
    backoff_s: float = 0.5
    max_tokens: int = 2048

    @staticmethod
    def from_env(base_url: str | None = None, model: str | None = None) -> HttpSettings:
        """Settings from options, falling back to the environment (read when called)."""
        url = base_url or os.environ.get("RADCYCLE_LLM_URL", "")
        if not url:
            raise InputError("no LLM URL: give --llm URL or set RADCYCLE_LLM_URL")
        return HttpSettings(
            base_url=url,
            model=model or os.environ.get("RADCYCLE_LLM_MODEL", "default"),
            api_key=os.environ.get("RADCYCLE_LLM_KEY") or None,
        )


class HttpBackend:
    """An OpenAI-compatible chat-completions server (see the module docstring).

    Args:
        settings: URL, model, key, timeouts and retries.
        transport: an httpx transport (tests pass a mock; default: the network).
    """

    def __init__(
        self, settings: HttpSettings, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.settings = settings
        url = settings.base_url.rstrip("/")
        self._url = (url if url.endswith("/v1") else url + "/v1") + "/chat/completions"
        self._transport = transport

    @property
    def name(self) -> str:
        return f"llm:{self.settings.model}"

    def _body(self, system: str, prompt: str, schema: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "model": self.settings.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": prompt},
            ],
            "temperature": 0,
            "max_tokens": self.settings.max_tokens,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "report", "strict": True, "schema": dict(schema)},
            },
        }

    def complete(self, system: str, prompt: str, schema: Mapping[str, Any]) -> str:
        """POST the prompt; retry with backoff; return the message content.

        Raises:
            DraftingError: down, too slow, an error status, or an answer without content.
        """
        s = self.settings
        headers = {"Authorization": f"Bearer {s.api_key}"} if s.api_key else {}
        body = self._body(system, prompt, schema)
        last = ""
        with httpx.Client(timeout=s.timeout_s, transport=self._transport) as client:
            for attempt in range(s.retries + 1):
                if attempt:
                    time.sleep(s.backoff_s * 2 ** (attempt - 1))
                try:
                    response = client.post(self._url, json=body, headers=headers)
                except httpx.TimeoutException:
                    last = f"no answer within {s.timeout_s:g} s"
                    continue
                except httpx.TransportError as exc:
                    last = f"cannot connect ({type(exc).__name__})"
                    continue
                if response.status_code in _RETRY_STATUS:
                    last = f"HTTP {response.status_code}"
                    continue
                return _content(response, self._url)
        raise DraftingError(f"{self._url}: {last} after {s.retries + 1} tries")


def _content(response: httpx.Response, url: str) -> str:
    if response.status_code != 200:
        raise DraftingError(f"{url}: HTTP {response.status_code}: {response.text[:200]}")
    try:
        data = response.json()
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise DraftingError(f"{url}: the answer is not a chat completion") from exc
    if not isinstance(content, str):
        raise DraftingError(f"{url}: the answer has no text content")
    return content


def check_gguf(path: Path) -> Path:
    """``path`` if it is a GGUF file (by its magic bytes), else a clear error.

    Raises:
        InputError: missing, unreadable, or not GGUF.
    """
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise InputError(f"cannot read the model: {exc.strerror}", path=path) from exc
    if magic != _GGUF_MAGIC:
        raise InputError("not a GGUF model file", path=path, value=magic.hex())
    return path


class LlamaCppBackend:
    """llama.cpp in process (the optional ``llama`` extra) with a GGUF file.

    Raises:
        InputError: the file is not GGUF, or ``llama-cpp-python`` is not installed.
    """

    def __init__(self, model_path: Path, n_ctx: int = 8192) -> None:
        self.model_path = check_gguf(model_path)
        try:
            from llama_cpp import Llama  # optional extra, imported only when asked for
        except ImportError as exc:
            raise InputError("in-process drafting needs: pip install 'radcycle[llama]'") from exc
        try:
            self._llm = Llama(model_path=str(model_path), n_ctx=n_ctx, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise InputError(f"llama.cpp cannot load the model: {exc}", path=model_path) from exc

    @property
    def name(self) -> str:
        return f"llm:{self.model_path.name}"

    def complete(self, system: str, prompt: str, schema: Mapping[str, Any]) -> str:
        try:
            out = self._llm.create_chat_completion(
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": prompt},
                ],
                response_format={"type": "json_object", "schema": dict(schema)},
                temperature=0,
            )
            return str(out["choices"][0]["message"]["content"])
        except (ValueError, RuntimeError, KeyError, IndexError) as exc:
            raise DraftingError(f"llama.cpp drafting failed: {exc}") from exc


def parse_draft(text: str) -> list[dict[str, Any]]:
    """The sentences of a model's answer, checked against :func:`draft_schema`'s shape.

    Raises:
        DraftingError: not JSON, or not the schema's shape.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DraftingError(f"the model's answer is not JSON ({exc.msg})") from exc
    items = data.get("sentences") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise DraftingError("the model's answer has no 'sentences' list")
    out = []
    for item in items:
        if (
            isinstance(item, dict)
            and isinstance(item.get("id"), str)
            and isinstance(item.get("text"), str)
            and isinstance(item.get("fact_ids"), list)
            and all(isinstance(i, str) for i in item["fact_ids"])
        ):
            out.append(item)
    return out
