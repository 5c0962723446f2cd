"""How the form reaches the phone: compressed once per campaign, past the staff app's
middleware, and the load benchmark's own checks on the real app."""

from __future__ import annotations

import asyncio
import gzip
import secrets
import sys
import urllib.error
import urllib.request
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from live_server import REPO, LiveServer, form_fields, open_form_campaign

from survey.webform.compression import SlottedPage, accepts_gzip
from survey.webform.dispatch import PrefixDispatch
from survey.webform.randomness import RandomPool

SECRET = "delivery-test-secret"


# --- compression -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip, deflate, br", True),
        ("GZIP", True),
        ("br;q=1.0, gzip;q=0.8", True),
        ("x-gzip", True),
        ("gzip;q=0", False),
        ("gzip; q=0.0", False),
        ("deflate, br", False),
        ("", False),
        ("identity", False),
    ],
)
def test_accepts_gzip(header, expected):
    assert accepts_gzip(header) is expected


@given(
    head=st.text(max_size=3000),
    value=st.text(max_size=40),
    tail=st.text(max_size=300),
)
def test_a_slotted_page_compresses_to_exactly_the_filled_page(head, value, tail):
    slot = "key-" + "9f" * 16
    page = SlottedPage(head + slot + tail, slot)
    filled = (head + value + tail).encode("utf-8")
    assert page.plain(value) == filled
    assert gzip.decompress(page.gzipped(value)) == filled


def test_the_same_slotted_page_serves_many_values():
    slot = "SLOT-0123456789"
    page = SlottedPage("<p>" + "Phiếu khảo sát " * 500 + slot + "</p>", slot)
    keys = [secrets.token_urlsafe(24) for _ in range(5)]
    bodies = [page.gzipped(key) for key in keys]
    for key, body in zip(keys, bodies, strict=True):
        assert gzip.decompress(body).decode().endswith(key + "</p>")
    assert len(bodies[0]) < len(page.plain(keys[0])) / 10


def test_a_page_without_its_slot_is_refused():
    with pytest.raises(ValueError, match="slot"):
        SlottedPage("<p>no slot here</p>", "SLOT")


def test_edges_of_a_slotted_page():
    for head, tail in (("", ""), ("", "<p>tail</p>"), ("<p>head</p>", "")):
        page = SlottedPage(head + "SLOT" + tail, "SLOT")
        for value in ("", "k" * 65535):
            body = page.gzipped(value)
            assert gzip.decompress(body) == (head + value + tail).encode()
            assert zlib.decompress(body, 47) == (head + value + tail).encode()  # zlib's reader
    with pytest.raises(ValueError, match="too long"):
        SlottedPage("aSLOTb", "SLOT").gzipped("k" * 65536)


# --- randomness ------------------------------------------------------------------------


def test_random_pool_never_hands_out_the_same_bytes_twice():
    pool = RandomPool(chunk_bytes=64)
    taken = [pool.take(15) for _ in range(200)]  # crosses many refills
    assert all(len(piece) == 15 for piece in taken)
    assert len(set(taken)) == 200
    assert len(pool.take(100)) == 100  # more than a chunk at once


def test_random_pool_integers_are_in_range_and_spread():
    pool = RandomPool()
    assert {pool.below(1) for _ in range(20)} == {0}
    draws = [pool.below(31) for _ in range(31_000)]
    counts = [draws.count(value) for value in range(31)]
    assert min(draws) == 0 and max(draws) == 30
    assert min(counts) > 800 and max(counts) < 1200  # about 1000 each (6 sd: ~190)
    big = [pool.below(31**8) for _ in range(2000)]
    assert max(big) < 31**8 and max(big) > 31**8 * 0.99 and min(big) < 31**8 * 0.01
    with pytest.raises(ValueError):
        pool.below(0)


# --- dispatch --------------------------------------------------------------------------


def test_prefix_dispatch_sends_only_form_requests_to_the_light_app():
    seen: list[tuple[str, str, str]] = []

    def app(name):
        async def handle(scope, receive, send):
            seen.append((name, scope["type"], scope.get("path", "")))

        return handle

    dispatch = PrefixDispatch(app("main"), app("light"))
    for scope in (
        {"type": "http", "path": "/s/TOKEN"},
        {"type": "http", "path": "/s/TOKEN/gui"},
        {"type": "http", "path": "/"},
        {"type": "http", "path": "/sx"},
        {"type": "http", "path": "/_stcore/health"},
        {"type": "websocket", "path": "/s/TOKEN"},
        {"type": "lifespan"},
    ):
        asyncio.run(dispatch(scope, None, None))
    assert [name for name, _, _ in seen] == [
        "light", "light", "main", "main", "main", "main", "main"
    ]


# --- the real app ----------------------------------------------------------------------


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, headers with lower-case names, raw body) without any decoding."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, _lower(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, _lower(error.headers), error.read()


def _lower(headers) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def test_the_app_serves_the_form_compressed_beside_the_staff_app(db_url, tmp_path):
    _campaign_id, form_path = open_form_campaign(db_url, SECRET)
    with LiveServer(db_url, tmp_path / "app", SECRET) as server:
        status, headers, body = fetch(server.base_url + form_path, {"Accept-Encoding": "gzip"})
        assert status == 200 and headers["content-encoding"] == "gzip"
        assert "Accept-Encoding" in headers["vary"]
        page = gzip.decompress(body).decode("utf-8")
        assert len(body) < len(page.encode()) / 4  # about 4 KB on the wire for 23 KB
        assert dict(form_fields(page))["k"]  # a complete form with its key
        assert "set-cookie" not in headers

        status, headers, plain = fetch(server.base_url + form_path)
        assert status == 200 and "content-encoding" not in headers
        assert dict(form_fields(plain.decode()))["k"] != dict(form_fields(page))["k"]

        status, _, body = fetch(server.base_url + "/s/khong/co/trang-nay")
        assert status == 404 and "Không tìm thấy trang" in body.decode()
        assert fetch(server.base_url + "/_stcore/health")[0] == 200  # the staff app is there


@pytest.mark.parametrize("workers", [0, 2], ids=["whole-app", "form-app-2-processes"])
def test_the_load_benchmark_finds_nothing_lost(db_url, capsys, workers):
    """The whole app, and the form application alone in two uvicorn processes sharing the
    database: every submission stored once."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import load_submit
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    code = load_submit.main(
        ["--database-url", db_url, "--submissions", "60", "--clients", "6", "--target-p95", "1e9",
         "--workers", str(workers)]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "stored 60  acknowledged 60  lost 0  duplicated 0  incomplete 0" in out
    assert "nothing lost, nothing counted twice" in out
    assert (f"form app in {workers} process(es)" if workers else "whole app") in out
