"""Durable job tables: the inbox (claim by partition lease, ack, park), group commit, de-duplication keys."""

from __future__ import annotations

from fermion.queue.groupcommit import GroupCommitter
from fermion.queue.inbox import Inbox, InboxItem, InboxRecord, InboxStatus, ParkedItem
from fermion.queue.partitions import INBOX_PARTITIONS, PartitionLeases

__all__ = [
    "INBOX_PARTITIONS",
    "GroupCommitter",
    "Inbox",
    "InboxItem",
    "InboxRecord",
    "InboxStatus",
    "ParkedItem",
    "PartitionLeases",
]
