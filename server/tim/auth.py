"""Which TIM apps exist, and checking a UserSig against the right app's key."""

from __future__ import annotations

from dataclasses import dataclass

from protocol.tim import errors as E
from protocol.tim import tickets, usersig
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
        return self.verify_doc(sdkappid, identifier, sig)[0]

    def verify_doc(
        self, sdkappid: int, identifier: str, sig: str
    ) -> tuple[AppSettings, usersig.UserSigDoc]:
        """:meth:`verify`, also returning what the UserSig says (its expiry)."""
        app = self.get(sdkappid)
        try:
            doc = usersig.verify_usersig(
                sig,
                sdkappid=sdkappid,
                key=app.secret_key,
                identifier=identifier,
                now=self.clock.now_ms() // 1000,
            )
        except usersig.UserSigError as exc:
            raise TimError(_USERSIG_CODES[exc.reason], f"UserSig rejected: {exc}") from None
        return app, doc

    def issue_a2(self, app: AppSettings, user: str, expires_s: int) -> str:
        """The A2Key of a session of ``user``, valid as long as the UserSig it came from."""
        now = self.clock.now_ms() // 1000
        return tickets.issue_a2(
            app.sdkappid, user, app.secret_key, issued_s=now, expires_s=expires_s
        )

    def verify_a2(self, a2: str, sdkappid: int = 0) -> tuple[AppSettings, tickets.A2]:
        """The app and session an A2Key names (``sdkappid``, if not 0, must be its app).

        Raises TimError: A2_EXPIRED (past its UserSig's expiry), A2_INVALID (not issued by
        this server for that app), 70020 (no such app)."""
        try:
            claims = tickets.peek_a2(a2)
        except tickets.TicketError as exc:
            raise TimError(E.A2_INVALID, str(exc)) from None
        if sdkappid and claims.sdkappid != sdkappid:
            raise TimError(
                E.A2_INVALID, f"the a2 was issued for app {claims.sdkappid}, not {sdkappid}"
            )
        app = self.get(claims.sdkappid)
        try:
            verified = tickets.verify_a2(a2, app.secret_key, now_s=self.clock.now_ms() // 1000)
        except tickets.TicketError as exc:
            raise TimError(E.A2_EXPIRED if exc.expired else E.A2_INVALID, str(exc)) from None
        return app, verified
