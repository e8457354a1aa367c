"""Event delivery to an app's webhook URL (encryption, signature, url_verification).

One :class:`WebhookChannel` per app configured with an ``event_url``, run by the outbox like
any channel: each stored event is rendered for the app (``events.EventRenderer``) and POSTed,

* as the plaintext JSON when the app has no Encrypt Key, or as ``{"encrypt": "<base64>"}``
  (AES-256-CBC, ``protocol/feishu/webhook_crypto.py``) when it has one;
* with ``X-Lark-Request-Timestamp``, ``X-Lark-Request-Nonce`` and ``X-Lark-Signature`` in that
  exact casing (the Python SDK looks them up case-sensitively; aiohttp sends names as given).

A delivery counts when the app answers HTTP 200 within the app's ``timeout``; anything else
(a refused connection, a timeout, a 500 from the SDK's handler) is retried by the outbox with
backoff, carrying the same ``header.event_id`` every time. Each attempt is logged in the
outbox's attempt log, with the event type and id in its detail.

When the channel starts it sends one ``url_verification`` challenge (encrypted when the app has
an Encrypt Key) and logs the outcome, in the server log and in the attempt log (outbox event 0).
Events wait for that answer (at most the timeout), never for its success: a wrong answer is
reported, not fatal.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass

import aiohttp
import msgspec

from protocol import codec
from protocol.feishu.events import EncryptedBody, UrlVerification, encode
from protocol.feishu.webhook_crypto import encrypt_event, signed_headers
from server.core.clock import Clock
from server.core.eventlog import EventLog
from server.core.events import StoredEvent
from server.feishu.events import RENDERED_TYPES, EventRenderer
from server.outbox import Outcome, RetryPolicy
from server.settings import FeishuAppSettings

log = logging.getLogger("server.feishu.webhook")

VERIFICATION_EVENT = 0  # the outbox id under which the url_verification attempt is logged
_MAX_PENDING = 1024  # rendered events kept for their retries (at most max_in_flight are live)


class _Challenge(msgspec.Struct):
    challenge: str = ""


_challenge_decoder = codec.Decoder(_Challenge)


def channel_name(app_id: str) -> str:
    return f"feishu-webhook:{app_id}"


@dataclass(slots=True)
class _Pending:
    """The bodies of the event being delivered, rendered once so retries send the same."""

    event: int
    bodies: list[bytes]
    done: int = 0  # how many of them the app has accepted


class WebhookChannel:
    """One app's webhook URL, as an outbox channel."""

    types = RENDERED_TYPES

    def __init__(
        self,
        app: FeishuAppSettings,
        renderer: EventRenderer,
        http: aiohttp.ClientSession,
        clock: Clock,
        log_book: EventLog,
    ) -> None:
        if app.event_url is None:
            raise ValueError(f"feishu app {app.app_id!r} has no event_url")
        self.settings = app
        self.url = app.event_url
        self.name = channel_name(app.app_id)
        self.app = app.workspace
        self.renderer = renderer
        self.http = http
        self.clock = clock
        self.log_book = log_book
        self.retry = RetryPolicy(app.retry_initial, app.retry_max, app.give_up_after)
        self.window = app.max_in_flight
        self.verified: bool | None = None  # None: no challenge answered yet
        self._verification: asyncio.Task[Outcome] | None = None
        self._pending: dict[int, _Pending] = {}  # events being delivered, by outbox id

    # -- url_verification ------------------------------------------------------------------

    def start_verification(self) -> asyncio.Task[Outcome]:
        """Send the challenge in the background (once); events wait for its answer."""
        if self._verification is None:
            self._verification = asyncio.create_task(
                self.verify(), name=f"url_verification:{self.settings.app_id}"
            )
        return self._verification

    async def verify(self) -> Outcome:
        """POST a url_verification challenge, log the outcome and return it. Raises nothing."""
        challenge = secrets.token_hex(16)
        plain = encode(UrlVerification(challenge=challenge, token=self.settings.verification_token))
        try:
            outcome, text = await self._post(plain, "url_verification")
        except Exception as exc:  # the session closed under it (shutdown), say
            outcome, text = Outcome(False, None, f"url_verification: {exc!r}"), ""
        if outcome.ok:
            try:
                answer = _challenge_decoder.decode(text)
            except msgspec.DecodeError:
                answer = _Challenge()
            if answer.challenge != challenge:
                outcome = Outcome(False, outcome.status, f"{outcome.detail} (wrong challenge)")
        self.verified = outcome.ok
        if outcome.ok:
            log.info("feishu app %s: url_verification answered", self.settings.app_id)
        else:
            log.warning(
                "feishu app %s: url_verification failed (%s); events are sent anyway",
                self.settings.app_id,
                outcome.detail,
            )
        try:
            await self.log_book.record_attempt(
                self.name, VERIFICATION_EVENT, outcome.ok, outcome.status, outcome.detail
            )
        except Exception:  # the log is for inspection; a storage error must not end the task
            log.exception("feishu app %s: cannot log url_verification", self.settings.app_id)
        return outcome

    # -- events ----------------------------------------------------------------------------

    async def deliver(self, stored: StoredEvent) -> Outcome | None:
        """POST the app's events for ``stored``; None if the app hears nothing of it."""
        if self._verification is not None and not self._verification.done():
            await asyncio.wait([self._verification])
        pending = self._pending.get(stored.id)
        if pending is None:
            pending = _Pending(stored.id, await self.renderer.render(self.settings, stored))
            if len(self._pending) >= _MAX_PENDING:  # events given up since: forget the oldest
                del self._pending[next(iter(self._pending))]
            self._pending[stored.id] = pending
        if not pending.bodies:
            del self._pending[stored.id]
            return None
        outcome = Outcome(True, 200, "")
        while pending.done < len(pending.bodies):
            body = pending.bodies[pending.done]
            outcome, _ = await self._post(body, _label(body))
            if not outcome.ok:
                return outcome
            pending.done += 1
        del self._pending[stored.id]
        return outcome

    async def _post(self, plain: bytes, label: str) -> tuple[Outcome, str]:
        """POST one body (encrypted and signed when the app has an Encrypt Key); the outcome
        and the answer's text."""
        key = self.settings.encrypt_key
        data = encode(EncryptedBody(encrypt_event(plain, key))) if key else plain
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if key:
            headers.update(signed_headers(data, key, timestamp=self.clock.now_ms() // 1000))
        timeout = self.settings.timeout
        try:
            async with self.http.post(
                self.url,
                data=data,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ) as resp:
                text = (await resp.content.read(65536)).decode(errors="replace")
                if resp.status != 200:
                    return Outcome(
                        False, resp.status, f"{label}: HTTP {resp.status} {text[:300]}"
                    ), text
                return Outcome(True, 200, f"{label}: {text[:300]}"), text
        except TimeoutError:
            return Outcome(False, None, f"{label}: no answer within {timeout}s"), ""
        except aiohttp.ClientError as exc:
            return Outcome(False, None, f"{label}: {exc.__class__.__name__}: {exc}"), ""


class _LabelHeader(msgspec.Struct):
    event_type: str = ""
    event_id: str = ""


class _Label(msgspec.Struct):
    header: _LabelHeader = msgspec.field(default_factory=_LabelHeader)


_label_decoder = codec.Decoder(_Label)


def _label(body: bytes) -> str:
    """``"<event_type> <event_id>"`` of a rendered body, for the attempt log."""
    header = _label_decoder.decode(body).header
    return f"{header.event_type} {header.event_id}"
