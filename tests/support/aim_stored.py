"""A Tracelet run's AIM run, in the contract's terms."""

from __future__ import annotations

from support.aim_reading import AimStoredRun, context_key, read_run
from support.media import Media
from tracelet.run import Run
from tracelet.testing import StoredRun


def aim_run_of(run: Run) -> AimStoredRun:
    """Read the AIM run of a (stopped) Tracelet run from the local repo its link names."""
    link = run.links["aim"]
    assert link.path is not None, f"not a local repo: {link}"
    assert link.id is not None
    assert link.command == f"aim up --repo {link.path}"
    return read_run(link.path, link.id)


def tracelet_name(name: str, context: tuple[tuple[str, str], ...]) -> str:
    """The Tracelet name of an AIM metric: ``loss`` + subset ``train`` → ``train/loss``."""
    subset = dict(context).get("subset")
    return f"{subset}/{name}" if subset else name


def read_stored(run: Run) -> StoredRun:
    """The run in the contract's terms: the revisions of a series are one metric again."""
    stored = aim_run_of(run)
    status = stored.raw.get("tracelet_status", None)
    metrics: dict[str, list[tuple[int, float]]] = {}
    for (name, context), points in sorted(stored.metrics.items(), key=_revision_order):
        plain = tuple((k, v) for k, v in context if k != "revision")
        metrics.setdefault(tracelet_name(name, plain), []).extend(points)
    media = read_media(stored)
    return StoredRun(
        images=media.images,
        histograms=media.histograms,
        texts=media.texts,
        metrics=metrics,
        params=stored.params,
        tags=dict(t.split(":", 1) if ":" in t else (t, "") for t in stored.tags),
        artifacts=stored.artifacts,
        status=status,
        name=stored.name,
    )


def _revision_order(item: tuple[tuple[str, tuple[tuple[str, str], ...]], object]) -> int:
    return int(dict(item[0][1]).get("revision", "0"))


def read_media(stored: AimStoredRun) -> Media:
    """The run's image, distribution and text sequences in the contract's terms (an image as
    the file bytes AIM keeps, a distribution as its weights per bin)."""
    media = Media()
    run = stored.raw
    for dtype, get, into in (
        ("aim.image", run.get_image_sequence, media.images),
        ("aim.distribution", run.get_distribution_sequence, media.histograms),
        ("aim.text", run.get_text_sequence, media.texts),
    ):
        for name, context, _run in run.iter_sequence_info_by_type(dtype):
            full = tracelet_name(name, context_key(context.to_dict()))
            steps, (values, *_rest) = get(name, context).data.items_list()
            for step, value in zip(steps, values, strict=True):
                if dtype == "aim.image":
                    content: object = bytes(value.storage["data"])
                elif dtype == "aim.distribution":
                    content = [float(w) for w in value.weights]
                else:
                    content = value.data
                into.setdefault(full, []).append((int(step), content))
    return media
