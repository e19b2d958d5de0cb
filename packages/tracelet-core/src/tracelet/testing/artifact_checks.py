"""The contract's check of typed artifacts (:mod:`tracelet.artifacts`): two versions of one
artifact are stored with nothing lost.

A typed version reaches a backend as an ordinary folder record named ``<type>/<name>/v<N>``
holding a ``manifest.json``. Whether the backend stores it as that folder or maps it to a
native artifact, the harness reads the versions back
(:meth:`~tracelet.testing.BackendHarness.read_typed_artifacts`), and when the backend has the
optional readers ``get_artifact`` and ``list_artifacts``, the kit reads them back through
``run.get_artifact(..., backend=...)`` and ``run.list_artifacts(backend=...)`` too.
"""

from __future__ import annotations

from pathlib import Path

from tracelet.artifacts import MANIFEST_FILE, ArtifactInfo, ArtifactType
from tracelet.run import Run
from tracelet.testing.checks import check_typed_artifact, expect
from tracelet.testing.harness import BackendHarness
from tracelet.testing.kit import KitRuns, declined, stopped

_NAME = "contract-model"

_STORED_FIX = (
    "store the folder record '<type>/<name>/v<N>' as any folder, every file and its "
    "manifest.json included (tracelet.artifacts.typed_manifest tells a typed version); a "
    "backend that maps typed artifacts natively reads them back in its harness's "
    "read_typed_artifacts, files from the stored bytes"
)
_READER_FIX = (
    "the backend's get_artifact(name, version) must return that version as the backend stored "
    "it ('latest': the highest) and list_artifacts() every version, read from what the "
    "backend stored (tracelet.artifacts.parse_manifest reads a manifest)"
)


def log_two_versions(run: Run, folder: Path) -> list[ArtifactInfo]:
    """Log versions 0 and 1 of one typed artifact: each a file in a subfolder and one at the
    top, a description and metadata, all different between the versions."""
    logged = []
    for version in range(2):
        source = folder / f"v{version}"
        (source / "weights").mkdir(parents=True)
        (source / "weights" / "model.bin").write_bytes(bytes([version]) * 64 + bytes(range(256)))
        (source / "card.txt").write_text(f"trained for {version + 1} epochs\n")
        artifact = run.create_artifact(
            _NAME, ArtifactType.MODEL, description=f"after epoch {version + 1}"
        )
        artifact.add_dir(source / "weights", artifact_path="weights")
        artifact.add_file(source / "card.txt")
        artifact.add_metadata(
            {
                "epochs": version + 1,
                "accuracy": (0.875, 0.9375)[version],
                "optimizer": {"name": "adam", "betas": [0.9, 0.999]},
            }
        )
        info = run.log_artifact(artifact)
        assert info is not None, "log_artifact(TypedArtifact) returned no version"
        expect(
            info.version == version,
            "log_artifact numbered the versions of a typed artifact wrongly",
            version,
            info.version,
            "this is Tracelet's job: report it as a Tracelet bug",
        )
        logged.append(info)
    return logged


def check_readers(run: Run, backend: str, logged: list[ArtifactInfo]) -> None:
    """The backend's own readers, if it has them, return every logged version (a backend
    without one raises ``NotImplementedError`` through ``run``: nothing to check)."""
    try:
        versions = {want.version: run.get_artifact(_NAME, want.version, backend) for want in logged}
        latest = run.get_artifact(_NAME, backend=backend)
    except NotImplementedError:
        pass
    else:
        for want in logged:
            got = versions[want.version]
            where = f"run.get_artifact({_NAME!r}, {want.version}, backend={backend!r})"
            check_typed_artifact(where, [] if got is None else [got], want, _READER_FIX)
        where = f"run.get_artifact({_NAME!r}, backend={backend!r}) (latest)"
        check_typed_artifact(where, [] if latest is None else [latest], logged[-1], _READER_FIX)
    try:
        listed = run.list_artifacts(backend=backend)
    except NotImplementedError:
        return
    for want in logged:
        check_typed_artifact(f"run.list_artifacts(backend={backend!r})", listed, want, _READER_FIX)


def check_folders(
    harness: BackendHarness, run: Run, found: list[ArtifactInfo], logged: list[ArtifactInfo]
) -> None:
    """For a harness that finds typed versions among :attr:`StoredRun.artifacts`: a logged
    version it did not find is named with the files stored in its folder, which shows whether
    the folder or only its manifest was lost."""
    read = {(a.name, a.version) for a in found}
    for want in logged:
        if (want.name, want.version) in read:
            continue
        prefix = want.folder + "/"
        files = sorted(path for path in harness.read(run).artifacts if path.startswith(prefix))
        expect(
            False,
            f"read back by the harness: typed artifact {want.name!r} v{want.version} is missing "
            f"(no readable {MANIFEST_FILE} in its folder)",
            [prefix + MANIFEST_FILE, *(prefix + f.path for f in want.files)],
            files,
            _STORED_FIX,
        )


class ArtifactChecks(KitRuns):
    """Typed artifact versions round-trip."""

    def test_typed_artifact_versions_round_trip(
        self, harness: BackendHarness, tmp_path: Path
    ) -> None:
        """Versions 0 and 1 of a typed artifact are each stored once with their type,
        description, metadata and files: read back by the harness after the run stopped and,
        while it runs (after ``flush``), by the backend's ``get_artifact``/``list_artifacts``
        when it has them. A backend that does not declare ``artifacts`` must count both records
        as unsupported instead."""
        run = self.start(harness, "typed-artifacts")
        logged = log_two_versions(run, tmp_path / "sources")
        if "artifacts" not in run.capabilities()[harness.backend]:
            stopped(run, harness)
            declined(run, harness, "artifacts", 2)
            return  # declared: the backend stores no artifacts (counted unsupported instead)
        flushed = run.flush(timeout=60)
        expect(
            flushed,
            "run.flush() did not deliver the typed artifact versions",
            "every record delivered",
            run.stats()[harness.backend],
            "write() must store the folder records before returning",
        )
        check_readers(run, harness.backend, logged)
        stopped(run, harness)
        found = harness.read_typed_artifacts(run)
        if type(harness).read_typed_artifacts is BackendHarness.read_typed_artifacts:
            check_folders(harness, run, found, logged)
        for want in logged:
            check_typed_artifact("read back by the harness", found, want, _STORED_FIX)
