"""``radcycle listen FOLDER``: receive studies by C-STORE and hand on each complete one.

Studies are filed as ``FOLDER/<StudyInstanceUID>/<SOPInstanceUID>.dcm``; one is
complete after ``--quiet-seconds`` without a new instance. Then, per the options:

* always, a line on stdout (a JSON object per line with ``--json``);
* ``--queue DIR``: a JSON file per completed study in DIR, for a worker to take;
* ``--analyze --out DIR``: ``radcycle analyze`` on the study folder into
  ``DIR/<StudyInstanceUID>`` (``.2``, ``.3``... if the study comes again: never over
  an earlier result), one analysis at a time, while the listener goes on receiving.

It listens on 127.0.0.1 unless ``--host`` says otherwise, and runs until Ctrl-C or
SIGTERM (or ``--max-studies`` completed studies and their analyses).
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from radcycle.cli.errors import friendly_errors, refuse_overlap, warn_all
from radcycle.cli.options import json_option, out_option
from radcycle.errors import ExportError, InputError
from radcycle.pacs.listener import CompletedStudy, ListenerSettings, QueueFolder, StoreListener

Emit = Callable[[dict[str, Any]], None]


def _emitter(as_json: bool) -> Emit:
    lock = threading.Lock()

    def emit(event: dict[str, Any]) -> None:
        if as_json:
            line = json.dumps(event)
        else:
            rest = ", ".join(f"{k}={v}" for k, v in event.items() if k != "event")
            line = f"{event['event']}: {rest}"
        with lock:
            typer.echo(line)

    return emit


def free_name(out: Path, name: str) -> Path:
    """``out/name``, or ``out/name.2``, ``.3``... : the first that does not exist."""
    target = out / name
    n = 1
    while target.exists():
        n += 1
        target = out / f"{name}.{n}"
    return target


class AnalyzeRunner:
    """Runs ``radcycle analyze`` on each completed study, one at a time, in a thread."""

    def __init__(self, out: Path, emit: Emit) -> None:
        self.out = out
        self.emit = emit
        self._queue: queue.Queue[CompletedStudy | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="radcycle-analyze", daemon=True)
        self._thread.start()

    def __call__(self, study: CompletedStudy) -> None:
        self._queue.put(study)

    def _work(self) -> None:
        while (study := self._queue.get()) is not None:
            target = free_name(self.out, study.study_instance_uid)
            argv = [sys.executable, "-m", "radcycle.cli.main", "analyze", str(study.folder)]
            run = subprocess.run(
                [*argv, "--out", str(target), "--json"],
                capture_output=True,
                text=True,
                check=False,
                stdin=subprocess.DEVNULL,
            )
            event: dict[str, Any] = {
                "event": "analyzed" if run.returncode == 0 else "analysis_failed",
                "study_instance_uid": study.study_instance_uid,
                "exit_code": run.returncode,
            }
            if run.returncode == 0:
                event["out"] = str(target)
            else:
                lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
                event["error"] = lines[-1] if lines else "no message"
            self.emit(event)

    def close(self) -> None:
        """Finish the queued analyses, then stop."""
        self._queue.put(None)
        self._thread.join()


@friendly_errors
def listen(
    folder: Path = typer.Argument(..., help="Where received studies are filed (created)."),
    port: int = typer.Option(11112, "--port", help="TCP port to listen on."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to listen on (loopback by default)."
    ),
    ae_title: str = typer.Option("RADCYCLE", "--aet", help="Our AE title."),
    allow_aet: list[str] = typer.Option(
        [], "--allow-aet", help="Accept only these calling AE titles (repeatable)."
    ),
    quiet_seconds: float = typer.Option(
        30.0, "--quiet-seconds", help="A study is complete after this long without an instance."
    ),
    queue_dir: Path | None = typer.Option(
        None, "--queue", help="Write a JSON file per completed study into this folder."
    ),
    analyze: bool = typer.Option(
        False, "--analyze", help="Run `radcycle analyze` on each completed study (needs --out)."
    ),
    out: Path | None = out_option(
        "With --analyze: each result goes to a new OUT/<StudyInstanceUID> (never replaced)."
    ),
    max_studies: int | None = typer.Option(
        None, "--max-studies", help="Stop after this many completed studies (and analyses)."
    ),
    as_json: bool = json_option("Print one JSON object per line, one line per event."),
) -> None:
    """Receive DICOM studies (C-STORE SCP) and queue or analyze each complete one."""
    if analyze and out is None:
        raise InputError("--analyze needs --out, the folder for the results")
    if out is not None and not analyze:
        raise InputError("--out is where --analyze writes; give --analyze too")
    if out is not None:
        refuse_overlap(out, [folder])
        if out.exists() and not out.is_dir():
            raise ExportError("the output is not a folder", path=out)
        out.mkdir(parents=True, exist_ok=True)
    if queue_dir is not None:
        refuse_overlap(queue_dir, [folder])
    settings = ListenerSettings(
        folder, host, port, ae_title, quiet_seconds, frozenset(a.strip() for a in allow_aet)
    )
    if not settings.loopback_only:
        warn_all([f"listening on {host}: other machines can send to this listener"])
    emit = _emitter(as_json)
    hooks: list[Callable[[CompletedStudy], None]] = []
    if queue_dir is not None:
        hooks.append(QueueFolder(queue_dir))
    runner = AnalyzeRunner(out, emit) if analyze and out is not None else None
    if runner is not None:
        hooks.append(runner)
    done = threading.Event()
    completed = 0

    def hook(study: CompletedStudy) -> None:
        nonlocal completed
        emit({"event": "study_complete", **study.to_json()})
        for h in hooks:
            h(study)
        completed += 1
        if max_studies is not None and completed >= max_studies:
            done.set()

    listener = StoreListener(settings, hook)
    listener.start()
    emit(
        {
            "event": "listening",
            "host": host,
            "port": port,
            "aet": ae_title,
            "folder": str(folder),
            "recovered_studies": listener.recovered,
        }
    )
    previous = signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        listener.stop()
        if runner is not None:
            runner.close()
    emit(
        {
            "event": "stopped",
            "stored": listener.stored,
            "rejected": len(listener.rejected),
            "incomplete_studies": listener.tracker.pending(),
        }
    )


def register(app: typer.Typer) -> None:
    app.command("listen")(listen)
