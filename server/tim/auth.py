"""Which TIM apps exist, and checking a UserSig against the right app's key."""

from __future__ import annotations

from dataclasses import dataclass

from protocol.tim import errors as E
from protocol.tim import usersig
from server.core.clock import Clock
from server.settings import AppSettings

_USERSIG_CODES = {
    usersig.EXPIRED: E.USERSIG_EXPIRED,
    usersig.MALFORMED: E.USERSIG_ILLEGAL,
    usersig.BAD_SIGNATURE: E.USERSIG_VERIFY_FAILED,
    usersig.IDENTIFIER_MISMATCH: E.USERSIG_IDENTIFIER_MISMATCH,
    usersig.SDKAPPID_MISMATCH: E.USERSIG_SDKAPPID_MISMATCH,
}


class TimError(Exception):
    """A refusal that already has its TIM code (decode, URL and authentication failures)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class TimApps:
    apps: dict[int, AppSettings]
    clock: Clock

    def get(self, sdkappid: int) -> AppSettings:
        app = self.apps.get(sdkappid)
        if app is None:
            raise TimError(
                E.SDKAPPID_NOT_FOUND, f"SDKAppID {sdkappid} does not exist on this server"
            )
        return app

    def verify(self, sdkappid: int, identifier: str, sig: str) -> AppSettings:
        """Check ``sig`` was minted for (sdkappid, identifier) with the app's key and is not
        expired. Raises TimError with 70001/70003/70009/70013/70014/70020."""
        app = self.get(sdkappid)
        try:
            usersig.verify_usersig(
                sig,
                sdkappid=sdkappid,
                key=app.secret_key,
                identifier=identifier,
                now=self.clock.now_ms() // 1000,
            )
        except usersig.UserSigError as exc:
            raise TimError(_USERSIG_CODES[exc.reason], f"UserSig rejected: {exc}") from None
        return app
