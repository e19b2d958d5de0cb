"""A Tracelet run's offline ClearML session, in the contract's terms."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

from support.clearml_reading import OfflineSession, read_session
from support.delivery import current_folder
from tracelet.artifacts import MANIFEST_FILE, ArtifactInfo, ArtifactType
from tracelet.run import Run
from tracelet.testing import StoredRun, file_entries
from tracelet_clearml.artifacts import MANIFEST_METADATA_KEY


def session_of(run: Run) -> OfflineSession:
    """The offline session of a (stopped) Tracelet run, from the folder its link names."""
    link = run.links["clearml"]
    assert link.path is not None
    assert link.path == run.locations()["clearml"]
    replaced = current_folder(run, "clearml")  # by tracelet sync
    session = read_session(Path(replaced or link.path))
    if replaced is None:
        assert session.task["id"] == link.id
    return session


def metric_name(title: str, series: str) -> str:
    """The Tracelet name of a scalar: ``a/b`` + ``c`` → ``a/b/c``; a single series → title."""
    return title if title == series else f"{title}/{series}"


#: A text record in the console log: ``[name @ step N] text`` (the text may span lines).
TEXT_LINE = re.compile(r"^\[(?P<name>[^\]]+) @ step (?P<step>\d+)\] ?", re.MULTILINE)


def read_texts(session: OfflineSession) -> dict[str, list[tuple[int, str]]]:
    """Text records from the console log: each runs to the next record or the end."""
    log = (session.folder / "log.jsonl").read_text() if session.folder.exists() else ""
    joined = "\n".join(
        event["msg"]
        for line in log.splitlines()
        if line.strip()
        for event in json.loads(line)
        if event["type"] == "log"
    )
    marks = list(TEXT_LINE.finditer(joined))
    texts: dict[str, list[tuple[int, str]]] = {}
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(joined)
        text = joined[mark.end() : end].rstrip("\n")
        texts.setdefault(mark["name"], []).append((int(mark["step"]), text))
    return texts


def read_stored(run: Run, section: str = "General") -> StoredRun:
    session = session_of(run)
    images: dict[str, list[tuple[int, bytes]]] = {}
    for event in session.of_type("training_debug_image"):
        name = metric_name(event["metric"], event["variant"])
        images.setdefault(name, []).append((event["iter"], Path(event["url"]).read_bytes()))
    histograms: dict[str, list[tuple[int, list[float]]]] = {}
    for event in session.of_type("plot"):
        bars = json.loads(event["plot_str"])["data"][0]
        if bars.get("type") == "bar":
            name = metric_name(event["metric"], event["variant"])
            histograms.setdefault(name, []).append((event["iter"], list(bars["y"])))
    return StoredRun(
        images=images,
        histograms=histograms,
        texts=read_texts(session),
        metrics={metric_name(*key): points for key, points in session.scalars().items()},
        params=session.params(section),
        tags=dict(t.split(":", 1) if ":" in t else (t, "") for t in session.tags),
        artifacts=session.artifacts(),
        status=None,  # not recorded offline
        name=session.name,
    )


def read_typed_artifacts(run: Run) -> list[ArtifactInfo]:
    """The typed artifact versions of the run as the task's artifacts, in Tracelet's terms: the
    name, type, version and description from the artifact metadata ClearML shows, the
    metadata from the manifest kept there, and the files from the stored zip (its
    ``manifest.json`` left out)."""
    found = []
    for artifact in session_of(run).task["execution"].get("artifacts") or []:
        shown = dict(artifact.get("display_data") or [])  # how ClearML keeps artifact metadata
        if MANIFEST_METADATA_KEY not in shown:
            continue  # a plain file or folder
        with zipfile.ZipFile(artifact["uri"]) as archive:
            contents = {
                info.filename: archive.read(info)
                for info in archive.infolist()
                if not info.is_dir() and info.filename != MANIFEST_FILE
            }
        manifest = json.loads(shown[MANIFEST_METADATA_KEY])
        found.append(
            ArtifactInfo(
                name=shown["name"],
                type=ArtifactType(shown["type"]),
                version=int(shown["version"]),
                description=shown["description"] or None,
                metadata=manifest["metadata"],
                files=file_entries(contents),
                run_id=manifest.get("run_id"),
                backend="clearml",
                uri=artifact["uri"],
            )
        )
    return found
