"""Report documents are decoded by the charset of the download's Content-Type, UTF-8 when none is named."""

from __future__ import annotations

import gzip

import httpx
import pytest
from spapi import ReportEncodingError, decode_report, report_charset
from spapi_fakes import ok

NAME = "Zelt für 2 \u2013 5 €"


@pytest.mark.parametrize(
    ("content_type", "charset"),
    [
        ("text/plain;charset=Cp1252", "Cp1252"),
        ('text/tab-separated-values; charset="UTF-8"', "UTF-8"),
        ("text/plain", "utf-8"),
        (None, "utf-8"),
        ("text/plain; charset=", "utf-8"),
    ],
)
def test_charset_comes_from_the_content_type(content_type: str | None, charset: str) -> None:
    assert report_charset(content_type) == charset


def test_decoding_follows_the_named_charset() -> None:
    assert decode_report(NAME.encode("cp1252"), "text/plain;charset=Cp1252") == NAME
    assert decode_report(NAME.encode("utf-8"), None) == NAME


def test_bytes_not_in_the_charset_and_unknown_charsets_are_clear_errors() -> None:
    with pytest.raises(ReportEncodingError, match="not valid utf-8 at byte 6") as wrong:
        decode_report(NAME.encode("cp1252"), "text/plain")
    assert "Zelt" not in str(wrong.value)  # the seller's data stays out of error text
    with pytest.raises(ReportEncodingError, match="unknown"):
        decode_report(b"x", "text/plain;charset=x-no-such-charset")


async def test_download_report_text_gunzips_and_decodes_by_header(make_client) -> None:
    h = make_client(
        ok({"reportDocumentId": "RD", "url": "https://s3.example/r", "compressionAlgorithm": "GZIP"}),
        httpx.Response(
            200,
            content=gzip.compress(f"item-name\n{NAME}\n".encode("cp1252")),
            headers={"content-type": "text/plain;charset=Cp1252"},
        ),
    )
    document = await h.client.reports.get_report_document("RD")
    assert await h.client.reports.download_report_text(document) == f"item-name\n{NAME}\n"
