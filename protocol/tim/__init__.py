"""Tencent Cloud IM (TIM) wire formats: REST bodies, WebSocket frames, callbacks, UserSig."""
