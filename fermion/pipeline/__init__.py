"""The pipeline workers: run the stages in order on inbox micro-batches; own no rules."""

from __future__ import annotations

from fermion.pipeline.stages import SOURCE_FEED_ATTRIBUTE, Decoded, Prepared, decode_item, prepare
from fermion.pipeline.worker import TickResult, Worker

__all__ = ["SOURCE_FEED_ATTRIBUTE", "Decoded", "Prepared", "TickResult", "Worker", "decode_item", "prepare"]
