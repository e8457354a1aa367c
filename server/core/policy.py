"""Per-app (workspace) rules the core enforces: plan features and receipt switches."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.core.model import GroupType

DEFAULT_RECEIPT_TYPES = frozenset({GroupType.WORK, GroupType.PUBLIC, GroupType.MEETING})
NEVER_RECEIPT_TYPES = frozenset({GroupType.AVCHATROOM, GroupType.COMMUNITY})


@dataclass(frozen=True, slots=True)
class AppPolicy:
    """What one app may do. ``admins`` may act on any conversation (TIM's App admin)."""

    app: int
    flagship: bool = True
    receipt_group_types: frozenset[GroupType] = DEFAULT_RECEIPT_TYPES
    receipt_group_cap: int = 200
    admins: frozenset[str] = field(default_factory=lambda: frozenset({"administrator"}))

    def group_receipts_enabled(self, group_type: GroupType) -> bool:
        """AVChatRoom and Community never keep receipts, whatever the switch says."""
        return group_type in self.receipt_group_types and group_type not in NEVER_RECEIPT_TYPES
