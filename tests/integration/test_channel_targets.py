"""Alert channel sends, strict by default: the URL's rules are checked again at send time and the
address each connection actually reached must be public, so DNS rebinding reaches nothing. Only the
local stack's explicit opt-out (COSTPILOT_ALLOW_LOCAL_CHANNELS) posts to 127.0.0.1."""

from __future__ import annotations

import socket
import threading

import pytest

from chalicelib.adapters import channels


class Listener:
    """A bare TCP listener on 127.0.0.1 recording what each connection sent (answers HTTP 204)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    data = conn.recv(65536)
                except OSError:
                    data = b""
                self.received.append(data)
                if data:
                    conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener():
    served = Listener()
    yield served
    served.close()


@pytest.fixture(autouse=True)
def fresh_clients():
    channels.reset()
    yield
    channels.reset()


def _resolve_to_loopback(monkeypatch, name: str) -> list[str]:
    """The name now answers 127.0.0.1 (it answered a public address when the channel was saved)."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host == name:
            asked.append(host)
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_a_rebound_name_is_refused_at_connect_before_any_byte_is_sent(monkeypatch, listener):
    monkeypatch.delenv("COSTPILOT_ALLOW_LOCAL_CHANNELS", raising=False)
    asked = _resolve_to_loopback(monkeypatch, "hooks.rebind.example")
    with pytest.raises(channels.DeliveryError) as e:
        channels.post_json(f"https://hooks.rebind.example:{listener.port}/x", {"text": "hi"})
    assert not e.value.retryable and "non-public" in e.value.message
    assert asked  # the connection really resolved the name (and reached the listener's address)
    listener.thread.join(timeout=0.5)
    assert all(data == b"" for data in listener.received)  # connected, then closed: nothing written


def test_strict_sends_recheck_the_url_rules(monkeypatch, listener):
    monkeypatch.delenv("COSTPILOT_ALLOW_LOCAL_CHANNELS", raising=False)
    for url in (f"http://127.0.0.1:{listener.port}/x", f"https://127.0.0.1:{listener.port}/x",
                f"https://localhost:{listener.port}/x"):
        with pytest.raises(channels.DeliveryError) as e:
            channels.post_json(url, {"text": "hi"})
        assert not e.value.retryable and url not in e.value.message
    assert listener.received == []


def test_the_local_stacks_opt_out_reaches_a_loopback_receiver(monkeypatch, listener):
    monkeypatch.setenv("COSTPILOT_ALLOW_LOCAL_CHANNELS", "true")
    assert channels.post_json(f"http://127.0.0.1:{listener.port}/x", {"text": "hi"}) == 204
    assert listener.received and listener.received[0].startswith(b"POST /x HTTP/1.1")


def test_only_the_local_stack_opts_out():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    assert '"COSTPILOT_ALLOW_LOCAL_CHANNELS": "true"' in (root / "devstack" / "__main__.py").read_text()
    assert "COSTPILOT_ALLOW_LOCAL_CHANNELS" not in (root / ".chalice" / "config.json").read_text()
