"""The pipeline workers: run the stages in order on inbox micro-batches; own no rules."""

from __future__ import annotations

from fermion.pipeline.dryrun import dry_run_stored
from fermion.pipeline.replay import QuarantineReplayer
from fermion.pipeline.stages import SOURCE_FEED_ATTRIBUTE, Decoded, Prepared, decode_item, prepare
from fermion.pipeline.verdicts import Verdicts
from fermion.pipeline.worker import TickResult, Worker

__all__ = [
    "SOURCE_FEED_ATTRIBUTE",
    "Decoded",
    "Prepared",
    "QuarantineReplayer",
    "TickResult",
    "Verdicts",
    "Worker",
    "decode_item",
    "dry_run_stored",
    "prepare",
]
