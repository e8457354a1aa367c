"""Feishu/Lark Open Platform wire formats: open-apis bodies, events, webhook crypto, pbbp2 frames."""
