"""``tf.summary``: summary ops and ``FileWriter`` (needs the optional ``tensorboard`` extra to run)."""

from flowgraph.summary.ops import histogram, image, merge, merge_all, scalar, text
from flowgraph.summary.protos import TensorBoardMissingError
from flowgraph.summary.writer import FileWriter


class FileWriterCache:
    """One FileWriter per log directory (TF1's cache)."""

    _writers: dict = {}

    @classmethod
    def get(cls, logdir: str) -> FileWriter:
        if logdir not in cls._writers:
            cls._writers[logdir] = FileWriter(logdir)
        return cls._writers[logdir]

    @classmethod
    def clear(cls) -> None:
        for w in cls._writers.values():
            w.close()
        cls._writers.clear()


def __getattr__(name: str):  # noqa: ANN202
    if name == "Summary":
        from flowgraph.summary.protos import protos

        return protos().summary.Summary
    if name == "Event":
        from flowgraph.summary.protos import protos

        return protos().event.Event
    from flowgraph.compat.missing import missing_attribute

    raise missing_attribute(__name__, globals(), name)


__all__ = ["FileWriter", "FileWriterCache", "TensorBoardMissingError", "histogram", "image", "merge", "merge_all", "scalar", "text"]
