"""MQTT links bridged into asyncio; the only module that imports paho.

A ``MqttLink`` is one connection's lifetime: connect, subscribe/publish, then it ends (the
broker went away, or ``close()``). Reconnecting is the caller's loop, so a new link starts
from a known state (the outbox decides what to resend; the broker's persistent session
decides what Frigate messages come again).

paho runs no thread of its own: as in aiomqtt, its socket is driven by the asyncio loop
(``add_reader`` → ``loop_read``, ``add_writer`` while paho has bytes to send → ``loop_write``,
a 1 s task → ``loop_misc`` for keepalive). Every callback therefore runs on the loop, and a
burst of publishes leaves in one write. Only the blocking TCP/TLS connect runs in an
executor. (With paho's own thread, each message crossed threads several times and the GIL
hand-offs capped a link near 2,800 messages/s.) Messages received with ``manual_ack`` are
acknowledged only when the caller says so (after its commit), so a crash between receipt
and commit loses nothing.

Covers: PB-05, PB-09, DT-02, DT-08.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from guarita.errors import LinkError, LinkTimeout, PublishRefused

__all__ = ["InboundMessage", "LinkSettings", "LinkTls", "MqttLink", "Will"]

log = logging.getLogger(__name__)

_READ_BURST = 256


@dataclass(frozen=True)
class LinkTls:
    """TLS material for a link; the CA verifies the broker, cert/key authenticate us."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def context(self) -> _TrackingContext:
        """A client context that verifies the broker's certificate and host name."""
        ctx = _TrackingContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        if self.ca_file is not None:
            ctx.load_verify_locations(cafile=str(self.ca_file))
        else:
            ctx.load_default_certs()
        if self.cert_file is not None:
            ctx.load_cert_chain(str(self.cert_file), str(self.key_file) if self.key_file else None)
        return ctx


class _TrackingContext(ssl.SSLContext):
    """Remembers the sockets it wraps: paho leaks the socket when a TLS handshake fails."""

    opened: list[ssl.SSLSocket]

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        wrapped = super().wrap_socket(*args, **kwargs)
        if not hasattr(self, "opened"):
            self.opened = []
        self.opened.append(wrapped)
        return wrapped

    def close_all(self) -> None:
        for sock in getattr(self, "opened", []):
            sock.close()


@dataclass(frozen=True)
class Will:
    """The Last Will the broker publishes if the link dies without a clean disconnect."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True)
class LinkSettings:
    """Everything needed to open one MQTT connection."""

    host: str
    port: int
    client_id: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: LinkTls | None = None
    mqtt5: bool = True
    keepalive_s: int = 30
    clean_start: bool = True
    session_expiry_s: int | None = None
    receive_maximum: int | None = None
    will: Will | None = None
    max_inflight: int = 256
    connect_timeout_s: float = 10.0

    @property
    def name(self) -> str:
        """``host:port`` for log lines (never credentials)."""
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class InboundMessage:
    """A message received on a link; ``mid`` is what ``MqttLink.ack`` needs."""

    topic: str
    payload: bytes
    qos: int
    mid: int
    retain: bool


class _BufferedSocket:
    """Wraps paho's socket so its many small reads and writes become few syscalls.

    paho reads a packet's fixed header a byte at a time (three or four syscalls per
    message, each a TLS record read on an uplink) and sends every packet on its own (one
    TLS record per 4-byte PUBACK). This reads up to 64 KiB per syscall and serves paho from
    memory, and collects what paho sends until ``flush`` after each ``loop_write``. Only
    what paho calls once connected is provided.
    """

    def __init__(self, sock: Any) -> None:
        self.raw = sock
        self._data = b""
        self._pos = 0
        self._out = bytearray()

    def recv(self, size: int) -> bytes:
        if self._pos >= len(self._data):
            self._data = self.raw.recv(65536)  # BlockingIOError / SSLWantReadError pass to paho
            self._pos = 0
            if not self._data:
                return b""
        chunk = self._data[self._pos : self._pos + size]
        self._pos += len(chunk)
        return chunk

    def buffered(self) -> int:
        """Bytes read from the socket that paho has not consumed yet (plus TLS's own)."""
        tls = self.raw.pending() if isinstance(self.raw, ssl.SSLSocket) else 0
        return len(self._data) - self._pos + tls

    def send(self, data: bytes) -> int:
        self._out += data
        return len(data)

    def flush(self) -> bool:
        """Write what paho sent; False while the socket cannot take it all yet.

        Raises:
            OSError: the connection is broken.
        """
        while self._out:
            try:
                written = self.raw.send(self._out)
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                return False
            del self._out[:written]
        return True

    def close(self) -> None:
        # paho closes right after queuing DISCONNECT: send it (and anything before it) first.
        try:
            self.flush()
        except OSError:
            pass
        self.raw.close()

    def fileno(self) -> int:
        return int(self.raw.fileno())

    def setblocking(self, flag: bool) -> None:
        self.raw.setblocking(flag)


def _rc_text(reason: ReasonCode | int | Any) -> str:
    return str(getattr(reason, "getName", lambda: reason)())


class MqttLink:
    """One MQTT connection, usable from asyncio; see the module docstring."""

    def __init__(self, settings: LinkSettings, *, manual_ack: bool = False) -> None:
        self.settings = settings
        self._loop = asyncio.get_running_loop()
        self._connected: asyncio.Future[None] = self._loop.create_future()
        self.closed = asyncio.Event()
        self.close_reason = ""
        self._publishes: dict[int, asyncio.Future[None]] = {}
        self._subscribes: dict[int, asyncio.Future[list[int]]] = {}
        self._inbox: deque[InboundMessage] = deque()
        self._inbox_ready = asyncio.Event()
        self._misc_task: asyncio.Task[None] | None = None
        self._packets_seen = 0
        self._reader: _BufferedSocket | None = None
        self._socket: Any = None
        self.max_packet_size: int | None = None  # the broker's limit, if its CONNACK (MQTT 5) gave one
        self._client = self._make_client(manual_ack)

    # ---- construction -------------------------------------------------------------
    def _make_client(self, manual_ack: bool) -> paho.Client:
        s = self.settings
        protocol = paho.MQTTv5 if s.mqtt5 else paho.MQTTv311
        kwargs: dict[str, Any] = {}
        if not s.mqtt5:
            kwargs["clean_session"] = s.clean_start
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            protocol=protocol,
            reconnect_on_failure=False,
            manual_ack=manual_ack,
            **kwargs,
        )
        client.max_inflight_messages_set(s.max_inflight)
        client.max_queued_messages_set(0)
        if s.username is not None:
            client.username_pw_set(s.username, s.password)
        try:
            self._tls_context = s.tls.context() if s.tls is not None else None
        except (ssl.SSLError, OSError) as exc:
            raise LinkError(f"{s.name}: cannot load the TLS files ({exc})") from exc
        if self._tls_context is not None:
            client.tls_set_context(self._tls_context)
        if s.will is not None:
            client.will_set(s.will.topic, s.will.payload, qos=s.will.qos, retain=s.will.retain)
        client.on_connect = lambda _c, _u, _f, rc, props: self._on_connack(rc, props)
        client.on_disconnect = lambda _c, _u, _f, rc, _p: self._end(f"disconnected: {_rc_text(rc)}")
        client.on_publish = lambda _c, _u, mid, rc, _p: self._on_puback(mid, rc)
        client.on_subscribe = lambda _c, _u, mid, rcs, _p: self._on_suback(mid, rcs)
        client.on_message = lambda _c, _u, m: self._on_message(
            InboundMessage(m.topic, bytes(m.payload), m.qos, m.mid, bool(m.retain))
        )
        return client

    def _connect_properties(self) -> Properties | None:
        s = self.settings
        if not s.mqtt5:
            return None
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        if s.session_expiry_s is not None:
            props.SessionExpiryInterval = s.session_expiry_s
        if s.receive_maximum is not None:
            props.ReceiveMaximum = s.receive_maximum
        return props

    # ---- paho callbacks (all run on the loop, from loop_read/loop_write) -----------
    def _on_message(self, message: InboundMessage) -> None:
        self._packets_seen += 1
        self._inbox.append(message)
        self._inbox_ready.set()

    def _on_puback(self, mid: int, rc: ReasonCode | int) -> None:
        self._packets_seen += 1
        future = self._publishes.pop(mid, None)
        if future is None or future.done():
            return
        if getattr(rc, "is_failure", False):
            code = int(getattr(rc, "value", 0x80))
            future.set_exception(PublishRefused(f"{self.settings.name} refused publish: {_rc_text(rc)}", code))
        else:
            future.set_result(None)

    def _on_suback(self, mid: int, codes: list[Any]) -> None:
        sub = self._subscribes.pop(mid, None)
        if sub is not None and not sub.done():
            sub.set_result([int(getattr(c, "value", c)) for c in codes])

    # ---- driving paho's socket from the loop ------------------------------------------
    def _attach(self) -> None:
        sock = self._client.socket()
        if sock is None:
            raise LinkError(f"{self.settings.name}: connection closed during connect")
        self._socket = sock
        # Private attribute: paho has no hook to wrap its socket after connecting.
        self._reader = _BufferedSocket(sock)
        self._client._sock = self._reader  # type: ignore[assignment]
        self._loop.add_reader(sock, self._on_readable)
        client = self._client
        client.on_socket_register_write = lambda _c, _u, _s: self._loop.add_writer(sock, self._on_writable)
        # Our buffer may still hold bytes when paho has none left: _on_writable decides.
        client.on_socket_unregister_write = lambda _c, _u, _s: None
        client.on_socket_close = lambda _c, _u, s: self._detach()
        if client.want_write():
            self._loop.add_writer(sock, self._on_writable)
        self._misc_task = self._loop.create_task(self._misc())

    def _detach(self) -> None:
        if self._socket is not None:
            self._loop.remove_reader(self._socket)
            self._loop.remove_writer(self._socket)
            self._socket = None

    def _on_readable(self) -> None:
        sock = self._socket
        # paho's loop_read handles one packet when no QoS 2 flow is open, whatever
        # max_packets says; read on while packets keep coming so one wake-up of the
        # loop takes a whole burst (and the consumer commits it as one batch).
        for _ in range(_READ_BURST):
            before = self._packets_seen
            self._client.loop_read()
            if self._packets_seen == before or self._socket is not sock:
                break
        # Bytes already read (by us, or decrypted by TLS) no longer show on the descriptor.
        if sock is not None and self._socket is sock and self._reader is not None and self._reader.buffered():
            self._loop.call_soon(self._on_readable)

    def _on_writable(self) -> None:
        sock, reader = self._socket, self._reader
        self._client.loop_write()
        if sock is None or reader is None or self._socket is not sock:
            return
        try:
            done = reader.flush()
        except OSError as exc:
            self._detach()
            self._end(f"connection lost while writing ({exc.strerror or exc})")
            return
        if done and not self._client.want_write():
            self._loop.remove_writer(sock)

    async def _misc(self) -> None:
        while not self.closed.is_set():
            try:
                await asyncio.wait_for(self.closed.wait(), 1.0)
            except TimeoutError:
                self._client.loop_misc()

    def _on_connack(self, rc: ReasonCode, properties: Properties | None) -> None:
        if self._connected.done():
            return
        limit = getattr(properties, "MaximumPacketSize", None)
        self.max_packet_size = int(limit) if limit else None
        if rc.is_failure:
            self._connected.set_exception(LinkError(f"{self.settings.name} refused the connection: {_rc_text(rc)}"))
        else:
            self._connected.set_result(None)

    def _end(self, reason: str) -> None:
        if self.closed.is_set():
            return
        self._detach()
        self.close_reason = reason
        self.closed.set()
        self._inbox_ready.set()
        error = LinkError(f"{self.settings.name} {reason}")
        waiting: list[asyncio.Future[Any]] = [*self._publishes.values(), *self._subscribes.values(), self._connected]
        for pending in waiting:
            if not pending.done():
                pending.set_exception(error)
                # Awaiting callers still get the error; nobody awaiting is not a bug here.
                pending.exception()
        self._publishes.clear()
        self._subscribes.clear()

    # ---- public API -------------------------------------------------------------------
    async def connect(self) -> None:
        """Open the connection and wait for a successful CONNACK.

        Raises:
            LinkError: refused (bad credentials, TLS, ACL) or unreachable.
            LinkTimeout: no CONNACK within ``connect_timeout_s``.
        """
        s = self.settings
        try:
            await asyncio.wait_for(
                self._loop.run_in_executor(
                    None,
                    lambda: self._client.connect(
                        s.host,
                        s.port,
                        keepalive=s.keepalive_s,
                        clean_start=s.clean_start if s.mqtt5 else paho.MQTT_CLEAN_START_FIRST_ONLY,
                        properties=self._connect_properties(),
                    ),
                ),
                s.connect_timeout_s,
            )
        except TimeoutError as exc:
            self._end("connect timed out")
            raise LinkTimeout(f"{s.name}: no answer within {s.connect_timeout_s:g} s") from exc
        except ssl.SSLError as exc:
            self._end("TLS failed")
            self._close_failed_sockets()
            why = getattr(exc, "verify_message", None) or exc.reason or str(exc)
            raise LinkError(
                f"{s.name}: TLS handshake failed: certificate verify failed ({why}); check tls.ca_file"
                if isinstance(exc, ssl.SSLCertVerificationError)
                else f"{s.name}: TLS handshake failed ({why})"
            ) from exc
        except OSError as exc:
            self._end("unreachable")
            self._close_failed_sockets()
            raise LinkError(f"{s.name}: cannot connect ({exc.strerror or exc})") from exc
        self._attach()
        try:
            await asyncio.wait_for(asyncio.shield(self._connected), s.connect_timeout_s)
        except TimeoutError as exc:
            await self.close()
            raise LinkTimeout(f"{s.name}: no CONNACK within {s.connect_timeout_s:g} s") from exc
        except LinkError:
            await self.close()
            raise

    def _close_failed_sockets(self) -> None:
        if self._tls_context is not None:
            self._tls_context.close_all()

    async def subscribe(self, topics: list[tuple[str, int]], timeout_s: float = 10.0) -> list[int]:
        """Subscribe and wait for the SUBACK; returns the granted QoS (or reason) per topic."""
        rc, mid = self._client.subscribe(topics)
        if rc != paho.MQTT_ERR_SUCCESS or mid is None:
            raise LinkError(f"{self.settings.name}: subscribe failed ({paho.error_string(rc)})")
        future: asyncio.Future[list[int]] = self._loop.create_future()
        self._subscribes[mid] = future
        try:
            granted = await asyncio.wait_for(future, timeout_s)
        except TimeoutError as exc:
            raise LinkTimeout(f"{self.settings.name}: no SUBACK within {timeout_s:g} s") from exc
        finally:
            self._subscribes.pop(mid, None)
        refused = [topic for (topic, _), code in zip(topics, granted, strict=False) if code >= 0x80]
        if refused:
            raise LinkError(f"{self.settings.name}: broker refused subscription to {', '.join(refused)}")
        return granted

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> asyncio.Future[None]:
        """Queue a publish; the future resolves on PUBACK (QoS 1) or once written (QoS 0).

        Raises:
            LinkError: the link is already closed.
        """
        if self.closed.is_set():
            raise LinkError(f"{self.settings.name} is closed ({self.close_reason})")
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        future: asyncio.Future[None] = self._loop.create_future()
        if info.rc != paho.MQTT_ERR_SUCCESS and info.rc != paho.MQTT_ERR_NO_CONN:
            future.set_exception(LinkError(f"{self.settings.name}: publish failed ({paho.error_string(info.rc)})"))
        else:
            self._publishes[info.mid] = future
        return future

    def publish_size(self, topic: str, payload: bytes) -> int:
        """Bytes of the PUBLISH packet (QoS 1) this link would send, to compare with ``max_packet_size``."""
        body = 2 + len(topic.encode()) + 2 + (1 if self.settings.mqtt5 else 0) + len(payload)
        length_bytes = 1 if body < 128 else 2 if body < 16_384 else 3 if body < 2_097_152 else 4
        return 1 + length_bytes + body

    def ack(self, message: InboundMessage) -> None:
        """Acknowledge a message received with ``manual_ack`` (after it is safely stored)."""
        if message.qos > 0 and not self.closed.is_set():
            self._client.ack(message.mid, message.qos)

    def take_messages(self, limit: int) -> list[InboundMessage]:
        """Up to ``limit`` received messages, oldest first, without waiting."""
        batch: list[InboundMessage] = []
        while self._inbox and len(batch) < limit:
            batch.append(self._inbox.popleft())
        if not self._inbox and not self.closed.is_set():
            self._inbox_ready.clear()
        return batch

    async def wait_messages(self, timeout_s: float) -> None:
        """Return when messages are waiting, the link closed, or ``timeout_s`` passed."""
        if self._inbox or self.closed.is_set():
            return
        try:
            await asyncio.wait_for(self._inbox_ready.wait(), timeout_s)
        except TimeoutError:
            pass

    async def close(self) -> None:
        """Disconnect cleanly (so the broker does not publish the Last Will)."""
        if self._socket is not None and not self.closed.is_set():
            self._client.disconnect()
            try:
                await asyncio.wait_for(self.closed.wait(), 2.0)
            except TimeoutError:
                log.debug("%s did not close in time after DISCONNECT", self.settings.name)
        self._end(self.close_reason or "closed")
        if self._misc_task is not None:
            await self._misc_task
        # paho closes its sockets only in __del__, which a reference cycle may run after the
        # sockets' own finalizers (ResourceWarning); close them now.
        self._client._reset_sockets()
        self._close_failed_sockets()
