"""Nagle's algorithm is off on connections accepted through a protocol-0 listening socket
(as Streamlit binds it), so small responses on kept-alive connections are not delayed."""

from __future__ import annotations

import asyncio
import socket
from asyncio import base_events

import pytest

from survey.webform import tcp


def nodelay_of_accepted_connection() -> int:
    """Serve once on a socket bound like Streamlit's; the accepted socket's TCP_NODELAY."""
    async def run() -> int:
        listener = socket.socket(family=socket.AF_INET)  # protocol 0, as Streamlit does
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def accepted(reader, writer):
            sock = writer.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(accepted, sock=listener)
        _, writer = await asyncio.open_connection(*listener.getsockname())
        value = await asyncio.wait_for(seen, 5)
        writer.close()
        server.close()
        await server.wait_closed()
        return value

    return asyncio.run(run())


@pytest.fixture
def restore_asyncio():
    original = base_events._set_nodelay
    yield
    base_events._set_nodelay = original


def test_without_the_fix_asyncio_leaves_nagle_on_for_protocol_zero_sockets(restore_asyncio):
    assert nodelay_of_accepted_connection() == 0


def test_with_the_fix_accepted_connections_have_nodelay(restore_asyncio):
    tcp.disable_nagle_on_accepted_sockets()
    assert nodelay_of_accepted_connection() != 0


def test_set_tcp_nodelay_on_a_protocol_zero_stream_socket():
    with socket.socket(socket.AF_INET) as stream:
        assert stream.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        tcp.set_tcp_nodelay(stream)
        assert stream.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
