"""Reading an offline W&B run back through the SDK's own record format (the run's ``.wandb`` log).

Nothing here talks to W&B: a run made with ``mode="offline"`` is read from
``<dir>/wandb/offline-run-<YYYYmmdd_HHMMSS>-<id>/run-<id>.wandb`` and decoded with the protobuf
types wandb ships (``wandb.proto.wandb_internal_pb2.Record``). Checked against wandb 0.31.0 (the
Go ``wandb-core`` service writes the file).

File format
    A 7-byte header: ``b":W&B"``, the magic ``0xBEE1`` (little-endian uint16) and a version byte
    (0). Then LevelDB-log framing: 32 KiB blocks counted from the start of the file (the header
    sits in the first block), each chunk a 7-byte header ``crc (uint32 LE), length (uint16 LE),
    type (uint8)`` and its payload; types FULL=1, FIRST=2, MIDDLE=3, LAST=4; a block tail shorter
    than 7 bytes is zero padding. The checksum is NOT LevelDB's masked crc32c: it is the plain
    IEEE CRC-32 (``zlib.crc32``) of the type byte followed by the payload, unmasked. Every chunk
    is checked. A reassembled payload is one serialized ``Record``.

What the records hold (field names as in ``wandb_internal_pb2``)
    - ``header.version_info.producer`` (``"0.31.0+<commit>"``) comes first.
    - ``run`` (RunRecord): ``run_id``, ``entity`` (empty offline unless passed to ``init``),
      ``project``, ``display_name``, ``tags``, ``run_group``, ``job_type``, ``notes``,
      ``config`` (a ConfigRecord: every key, plus ``_wandb``). A run record is sent again, as a
      full snapshot, whenever the run changes after init: ``run.tags = ...``, ``run.name = ...``
      and ``run.notes = ...`` each append a new ``run`` record; the last one holds the current
      values. So tag additions after init DO appear as records (a whole new run record).
    - ``config`` (ConfigRecord): ``run.config.update(...)`` appends one with ``update`` items
      (``key`` + ``value_json``; ``nested_key`` unused so far) of the changed keys only. wandb
      0.31's ``run.config`` has no ``__delitem__``, so ``remove`` is never seen; it is applied
      anyway.
    - ``history`` (HistoryRecord): one per logged row; each ``item`` has ``nested_key`` (a path:
      ``["loss"]``, or ``["nested", "x"]`` for ``{"nested": {"x": 1}}``) and ``value_json``; the
      SDK adds ``_step``, ``_timestamp`` and ``_runtime`` items, and ``step.num`` equals
      ``_step``. Media are flattened too (``["img", "_type"]``, ``["img", "path"]``, ...). Keys are
      never split by wandb: ``"train/loss"`` and ``"a.b"`` stay single keys. NaN and infinities
      are written as the JSON extensions ``NaN``/``Infinity``/``-Infinity``; a float with an
      integral value comes back as an int (``1.0`` is written ``1``). With
      ``define_metric("*", step_metric=S)`` (``options.step_sync``), a row logged without ``S``
      gets ``S``'s last value added by wandb; a custom step going backwards is kept as logged.
    - ``summary`` (SummaryRecord): wandb-core appends a summary delta after every history row
      (so ~2 summary records per row), plus ``run.summary[...] = ...`` updates and ``remove``
      items for ``del run.summary[...]``; items use ``key`` or ``nested_key``.
    - ``metric`` (MetricRecord) per ``define_metric``: ``name`` or ``glob_name``,
      ``step_metric``, ``options.step_sync``/``hidden``.
    - ``files`` (FilesRecord): paths relative to ``<run dir>/files`` (``requirements.txt``,
      ``media/images/img_<step>_<sha>.png``, ...).
    - ``artifact`` (ArtifactRecord): ``name``, ``type``, ``aliases`` (``"latest"`` is always
      added), ``digest``, ``metadata`` (JSON), ``manifest.contents`` (ArtifactManifestEntry:
      ``path``, ``digest`` = base64 of the file's MD5, ``size``, ``local_path``, ``ref``). A
      manifest with more than 100,000 entries is not inline: ``manifest.manifest_file_path`` then
      names a gzipped JSON-lines file, one entry per line (same field names).
    - ``exit`` (RunExitRecord): ``exit_code`` (0 is the proto default, so a clean finish reads as
      0), ``runtime`` in seconds.

Where things live offline
    - Media files: ``<run dir>/files/<value["path"]>``, e.g. ``files/media/images/img_<_step>_
      <sha256[:20]>.png`` for key ``img``; a slash in the key makes folders (key ``samples/img``
      gives ``media/images/samples/img_<_step>_<sha>.png``); tables go to ``media/table/``
      (``.table.json``), HTML to ``media/html/``. A histogram has no file: its ``values`` and
      ``bins`` are in the row. A ``wandb.Table`` is also logged as an artifact of type
      ``run_table`` named ``run-<id>-<key>`` (``run-<id>-<key without slashes>-<6 chars>`` when
      the key has a slash).
    - Artifact contents: ``log_artifact`` copies each file into the staging dir
      ``$WANDB_DATA_DIR/artifacts/staging/tmp<random>`` (mode 0400) and the manifest entry's
      ``local_path`` names that copy; offline it is still there after ``finish`` and
      ``wandb.teardown()``, so ``LoggedArtifact.read(path)`` reads it. A reference entry has
      ``ref`` (and ``digest`` = the reference itself when ``checksum=False``) and no local copy.

Running wandb inside a test process (0.31.0)
    - Set ``WANDB_MODE=offline``, ``WANDB_SILENT=true``, ``WANDB_ERROR_REPORTING=false`` and point
      ``WANDB_DATA_DIR``, ``WANDB_CACHE_DIR``, ``WANDB_CONFIG_DIR`` and ``WANDB_DIR`` (and, to be
      sure, ``HOME``) at a temp dir: nothing is then written elsewhere.
    - wandb reads ``WANDB_*`` env vars once per process, when its session singleton is set up
      (first ``wandb.init``); later changes are ignored ("Changes to your `wandb` environment
      variables will be ignored ...") until ``wandb.teardown()``, which also stops ``wandb-core``.
    - The service connection replaces ``sys.exit`` and ``sys.excepthook`` and never restores
      them, not even in ``teardown``: save and restore them around the test.
    - Timing on this machine: ``import wandb`` ~0.8 s; the first ``wandb.init`` ~0.75 s (it
      starts ``wandb-core``), later ones ~0.18 s; ``finish`` offline ~0.01 s; ``teardown``
      ~0.01 s; ``run.log`` of 10,000 rows of 5 keys ~3 s; reading that 4.3 MB log back ~1.2 s.

History rows are rebuilt as nested dicts from the ``nested_key`` paths, i.e. exactly the shape
that was logged: ``row["nested"]["x"]``, ``row["img"]["_type"] == "image-file"``; top-level keys
keep their slashes and dots (``row["train/loss"]``, ``row["a.b"]``). Summary and config are
rebuilt the same way.
"""

from __future__ import annotations

import gzip
import json
import struct
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto.wandb_internal_pb2 import Record

#: The file header: ``b":W&B"``, magic 0xBEE1 (little-endian), version byte.
HEADER = struct.Struct("<4sHB")
HEADER_IDENT = b":W&B"
HEADER_MAGIC = 0xBEE1
HEADER_VERSION = 0
#: LevelDB-log framing: block size and the chunk header ``crc, length, type``.
BLOCK_SIZE = 32 * 1024
CHUNK_HEADER = struct.Struct("<IHB")
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
#: Type byte -> its CRC-32, the seed for a chunk's checksum (type byte, then payload).
_TYPE_CRC = {kind: zlib.crc32(bytes([kind])) for kind in (FULL, FIRST, MIDDLE, LAST)}


# --- framing --------------------------------------------------------------------------------


def read_chunks(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """The physical chunks of a ``.wandb`` file's content, checked.

    Args:
        data: The whole file.

    Yields:
        ``(offset of the chunk header, chunk type, payload)`` in file order.

    Raises:
        AssertionError: The header is not ``:W&B``/0xBEE1/version 0, a block's padding is not
            zeros, a chunk is cut short, crosses its block, has an unknown type or a wrong CRC.
    """
    assert len(data) >= HEADER.size, f"{len(data)} bytes: too short for the W&B file header"
    ident, magic, version = HEADER.unpack_from(data, 0)
    assert (ident, magic, version) == (HEADER_IDENT, HEADER_MAGIC, HEADER_VERSION), (
        f"not a W&B transaction log (version 0): header {data[: HEADER.size]!r}"
    )
    pos = HEADER.size
    while pos < len(data):
        room = BLOCK_SIZE - pos % BLOCK_SIZE
        if room < CHUNK_HEADER.size:
            padding = data[pos : pos + room]
            assert not padding.strip(b"\0"), f"non-zero block padding at offset {pos}: {padding!r}"
            pos += room
            continue
        assert pos + CHUNK_HEADER.size <= len(data), f"chunk header cut short at offset {pos}"
        crc, length, kind = CHUNK_HEADER.unpack_from(data, pos)
        start = pos + CHUNK_HEADER.size
        end = start + length
        assert kind in _TYPE_CRC, f"unknown chunk type {kind} at offset {pos}"
        assert length <= room - CHUNK_HEADER.size, f"chunk at offset {pos} crosses its block"
        assert end <= len(data), f"chunk at offset {pos} cut short: {len(data) - start}/{length}"
        payload = data[start:end]
        actual = zlib.crc32(payload, _TYPE_CRC[kind])
        assert actual == crc, f"CRC mismatch at offset {pos}: stored {crc:#010x}, got {actual:#x}"
        yield pos, kind, payload
        pos = end


def read_payloads(data: bytes) -> list[bytes]:
    """The logical records of a ``.wandb`` file's content: chunks reassembled, nothing left over.

    Raises:
        AssertionError: As :func:`read_chunks`, or FIRST/MIDDLE/LAST chunks out of order, or a
            record still open at the end of the file.
    """
    payloads: list[bytes] = []
    parts: list[bytes] | None = None
    opened_at = 0
    for offset, kind, payload in read_chunks(data):
        if kind == FULL:
            assert parts is None, f"FULL chunk at offset {offset} inside the record at {opened_at}"
            payloads.append(payload)
        elif kind == FIRST:
            assert parts is None, f"FIRST chunk at offset {offset} inside the record at {opened_at}"
            parts, opened_at = [payload], offset
        else:
            name = "MIDDLE" if kind == MIDDLE else "LAST"
            assert parts is not None, f"{name} chunk at offset {offset} without a FIRST"
            parts.append(payload)
            if kind == LAST:
                payloads.append(b"".join(parts))
                parts = None
    assert parts is None, f"the record begun at offset {opened_at} never ends (no LAST chunk)"
    return payloads


def read_records(wandb_file: Path) -> list[Record]:
    """Every record of a ``.wandb`` transaction log, in order, decoded as ``Record`` protos.

    Raises:
        AssertionError: The framing is broken (see :func:`read_payloads`).
        google.protobuf.message.DecodeError: A payload is not a serialized ``Record``.
    """
    records = []
    for payload in read_payloads(wandb_file.read_bytes()):
        record = Record()
        record.ParseFromString(payload)
        records.append(record)
    return records


# --- locating a run -------------------------------------------------------------------------


def find_run_dir(root: Path, run_id: str | None = None) -> Path:
    """The offline run folder ``root/wandb/offline-run-<time>-<id>``.

    Args:
        root: The ``dir`` given to ``wandb.init`` (or ``WANDB_DIR``).
        run_id: The run's id; ``None`` expects exactly one offline run under ``root``.

    Raises:
        AssertionError: No such folder, or (without ``run_id``) more than one.
    """
    runs = sorted(p for p in (root / "wandb").glob("offline-run-*") if p.is_dir())
    if run_id is not None:
        runs = [p for p in runs if p.name.endswith(f"-{run_id}")]
    wanted = f"offline run {run_id!r}" if run_id else "exactly one offline run"
    assert len(runs) == 1, (
        f"expected {wanted} under {root / 'wandb'}, found {[p.name for p in runs]}"
    )
    return runs[0]


# --- the decoded run ------------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestEntry:
    """One file of a logged artifact, as its manifest entry names it."""

    digest: str  #: base64 of the MD5 of the content (or the reference, for unchecked refs)
    size: int
    local_path: str | None  #: the staged copy (``$WANDB_DATA_DIR/artifacts/staging/...``)
    ref: str | None  #: the URI of a reference entry


@dataclass
class LoggedArtifact:
    """An ``artifact`` record: what ``run.log_artifact`` (or a logged table) sent."""

    name: str
    type: str
    aliases: list[str]  #: sorted (wandb's order varies from run to run)
    digest: str
    metadata: dict[str, Any] | None
    entries: dict[str, ManifestEntry]  #: path inside the artifact -> entry
    description: str | None = None

    def read(self, path: str) -> bytes:
        """The content of the artifact's file ``path`` from its staged local copy.

        Raises:
            AssertionError: No such entry, or it has no readable local copy (a reference).
        """
        assert path in self.entries, f"{self.name!r} has no {path!r}: {sorted(self.entries)}"
        local = self.entries[path].local_path
        assert local is not None, f"{self.name}:{path} has no local copy (ref {self.entries[path]})"
        assert Path(local).is_file(), f"{self.name}:{path}: staged copy {local} is gone"
        return Path(local).read_bytes()


@dataclass(frozen=True)
class MetricDefinition:
    """A ``metric`` record (``run.define_metric``)."""

    name: str | None
    glob_name: str | None
    step_metric: str | None
    step_sync: bool
    hidden: bool


@dataclass
class WandbRun:
    """An offline run as its ``.wandb`` log records it (see the module docstring).

    Scalar fields and ``tags`` come from the last ``run`` record; ``config`` and ``summary`` are
    every update/remove applied in record order; ``history`` is one nested dict per ``history``
    record. Empty proto strings read as ``None``.
    """

    dir: Path
    id: str
    project: str | None
    entity: str | None
    name: str | None
    tags: list[str]
    group: str | None
    job_type: str | None
    notes: str | None
    config: dict[str, Any]  #: without wandb's own ``_wandb`` key (see ``wandb_config``)
    wandb_config: dict[str, Any]
    history: list[dict[str, Any]]
    summary: dict[str, Any]
    exit_code: int | None  #: ``None`` when there is no exit record (the run never finished)
    artifacts: list[LoggedArtifact]
    files: list[str]  #: every path a ``files`` record named, relative to ``dir / "files"``
    metrics: list[MetricDefinition]
    producer: str  #: the wandb version that wrote the log
    record_counts: dict[str, int] = field(default_factory=dict)  #: record type -> count

    def artifact(self, name: str) -> LoggedArtifact:
        """The one logged artifact called ``name``.

        Raises:
            AssertionError: None or several are called so.
        """
        found = [a for a in self.artifacts if a.name == name]
        assert len(found) == 1, f"{len(found)} artifacts named {name!r}: {self.artifact_names()}"
        return found[0]

    def artifact_names(self) -> list[str]:
        """The names of the logged artifacts, in record order."""
        return [a.name for a in self.artifacts]

    def media_file(self, value: dict[str, Any]) -> Path:
        """The file of a media value from a history row or the summary (its ``path`` key).

        Raises:
            AssertionError: ``value`` is not a file-backed media dict, or the file is missing.
        """
        assert isinstance(value, dict), f"not a media value: {value!r}"
        assert {"_type", "path"} <= value.keys(), f"not a file-backed media value: {value!r}"
        path = self.dir / "files" / value["path"]
        assert path.is_file(), f"media file {path} does not exist"
        return path


def _or_none(text: str) -> str | None:
    return text or None


def _path(item: Any) -> list[str]:
    """The key path of a history/summary/config item: ``nested_key`` if set, else ``[key]``."""
    path = list(item.nested_key) or [item.key]
    assert path != [""], f"item without a key: {item}"
    return path


def _decode(item: Any) -> Any:
    """An item's value: ``value_json`` decoded (HistoryItem's typed oneof, if ever used, wins)."""
    kind = item.WhichOneof("value") if item.DESCRIPTOR.name == "HistoryItem" else None
    if kind == "none":
        return None
    if kind == "json":
        return json.loads(item.json)
    if kind is not None:
        return getattr(item, kind)
    return json.loads(item.value_json)


def _set(tree: dict[str, Any], path: Sequence[str], value: Any) -> None:
    for key in path[:-1]:
        child = tree.get(key)
        if not isinstance(child, dict):
            child = tree[key] = {}
        tree = child
    tree[path[-1]] = value


def _remove(tree: dict[str, Any], path: Sequence[str]) -> None:
    for key in path[:-1]:
        child = tree.get(key)
        if not isinstance(child, dict):
            return
        tree = child
    tree.pop(path[-1], None)


def _apply(tree: dict[str, Any], updates: Iterable[Any], removes: Iterable[Any] = ()) -> None:
    for item in updates:
        _set(tree, _path(item), _decode(item))
    for item in removes:
        _remove(tree, _path(item))


def _manifest_entries(manifest: Any) -> dict[str, ManifestEntry]:
    if manifest.manifest_file_path:
        # Manifests above 100,000 entries travel as a gzipped JSON-lines file.
        with gzip.open(manifest.manifest_file_path, "rt", encoding="utf-8") as lines:
            rows = [json.loads(line) for line in lines if line.strip()]
        return {
            row["path"]: ManifestEntry(
                digest=row["digest"],
                size=int(row.get("size") or 0),
                local_path=row.get("local_path") or None,
                ref=row.get("ref") or None,
            )
            for row in rows
        }
    return {
        entry.path: ManifestEntry(
            digest=entry.digest,
            size=entry.size,
            local_path=_or_none(entry.local_path),
            ref=_or_none(entry.ref),
        )
        for entry in manifest.contents
    }


def run_from_records(records: Sequence[Record], run_dir: Path) -> WandbRun:
    """Fold a run's records (as :func:`read_records` returns them) into a :class:`WandbRun`.

    Raises:
        AssertionError: There is no ``run`` record.
    """
    last_run: Any = None
    config: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    artifacts: list[LoggedArtifact] = []
    files: list[str] = []
    metrics: list[MetricDefinition] = []
    exit_code: int | None = None
    producer = ""
    counts: Counter[str] = Counter()
    for record in records:
        kind = record.WhichOneof("record_type")
        counts[str(kind)] += 1
        if kind == "header":
            producer = record.header.version_info.producer
        elif kind == "run":
            last_run = record.run
            _apply(config, record.run.config.update, record.run.config.remove)
            _apply(summary, record.run.summary.update, record.run.summary.remove)
        elif kind == "config":
            _apply(config, record.config.update, record.config.remove)
        elif kind == "summary":
            _apply(summary, record.summary.update, record.summary.remove)
        elif kind == "history":
            row: dict[str, Any] = {}
            _apply(row, record.history.item)
            history.append(row)
        elif kind == "artifact":
            art = record.artifact
            artifacts.append(
                LoggedArtifact(
                    name=art.name,
                    type=art.type,
                    aliases=sorted(art.aliases),
                    digest=art.digest,
                    metadata=json.loads(art.metadata) if art.metadata else None,
                    entries=_manifest_entries(art.manifest),
                    description=_or_none(art.description),
                )
            )
        elif kind == "files":
            files.extend(f.path for f in record.files.files if f.path not in files)
        elif kind == "metric":
            m = record.metric
            metrics.append(
                MetricDefinition(
                    name=_or_none(m.name),
                    glob_name=_or_none(m.glob_name),
                    step_metric=_or_none(m.step_metric),
                    step_sync=m.options.step_sync,
                    hidden=m.options.hidden,
                )
            )
        elif kind == "exit":
            exit_code = record.exit.exit_code
    assert last_run is not None, f"no run record among {dict(counts)}"
    wandb_config = config.pop("_wandb", {})
    return WandbRun(
        dir=run_dir,
        id=last_run.run_id,
        project=_or_none(last_run.project),
        entity=_or_none(last_run.entity),
        name=_or_none(last_run.display_name),
        tags=list(last_run.tags),
        group=_or_none(last_run.run_group),
        job_type=_or_none(last_run.job_type),
        notes=_or_none(last_run.notes),
        config=config,
        wandb_config=wandb_config,
        history=history,
        summary=summary,
        exit_code=exit_code,
        artifacts=artifacts,
        files=files,
        metrics=metrics,
        producer=producer,
        record_counts=dict(counts),
    )


def read_offline_run(run_dir: Path) -> WandbRun:
    """The offline run in ``run_dir`` (from :func:`find_run_dir`), read from its ``.wandb`` log.

    Raises:
        AssertionError: ``run_dir`` holds no or several ``run-*.wandb`` files, or the log is
            broken (see :func:`read_records`).
    """
    logs = sorted(run_dir.glob("run-*.wandb"))
    assert len(logs) == 1, f"expected one run-*.wandb in {run_dir}, found {[p.name for p in logs]}"
    return run_from_records(read_records(logs[0]), run_dir)


def read_finished_run(run_dir: Path, timeout: float = 30.0) -> WandbRun:
    """:func:`read_offline_run`, once W&B's service has written the exit record (``finish``
    may return before the last records are in the file); after ``timeout`` seconds, the run as
    it is (its ``exit_code`` is then ``None``)."""
    from tracelet_wandb.offline_log import wait_for_exit

    logs = sorted(run_dir.glob("run-*.wandb"))
    if len(logs) == 1:
        wait_for_exit(logs[0], timeout)
    return read_offline_run(run_dir)


def metric_points(run: WandbRun, name: str, step_key: str) -> list[tuple[float, float]]:
    """``(row[step_key], row[name])`` for every history row that has ``name``, in row order.

    Args:
        run: The run read back.
        name: A top-level history key (``"train/loss"``; nested values are dicts, not points).
        step_key: The column giving the x value: ``"_step"``, or a custom step metric such as
            ``"tracelet/step"``.

    Raises:
        AssertionError: A row with ``name`` lacks ``step_key``, or either value is not a number.
    """
    points = []
    for index, row in enumerate(run.history):
        if name not in row:
            continue
        assert step_key in row, f"history row {index} has {name!r} but no {step_key!r}: {row}"
        step, value = row[step_key], row[name]
        for what, number in ((step_key, step), (name, value)):
            ok = isinstance(number, (int, float)) and not isinstance(number, bool)
            assert ok, f"history row {index}: {what!r} is not a number: {number!r}"
        points.append((float(step), float(value)))
    return points
