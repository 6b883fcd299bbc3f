"""Reports 2021-06-30: `createReport`, `getReport`, `getReportDocument` (gzip aware, decoded by its charset)."""

from __future__ import annotations

import asyncio
import codecs
from datetime import datetime
from email.message import Message
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, Field

from .models import SpApiModel, iso8601
from .operations import CREATE_REPORT, GET_REPORT, GET_REPORT_DOCUMENT
from .rate_limit import Priority

if TYPE_CHECKING:
    from .client import SpApiClient

TERMINAL_STATUSES = frozenset({"DONE", "FATAL", "CANCELLED"})
DEFAULT_CHARSET = "utf-8"


class ReportEncodingError(ValueError):
    """A report document that cannot be read as text in the charset its download names."""


def report_charset(content_type: str | None) -> str:
    """The charset of a report download's Content-Type, UTF-8 when it names none.

    Amazon names it only there, never in the document metadata: EU reports come as `charset=Cp1252`,
    a Java name that Python's codecs know too.
    """
    if not content_type:
        return DEFAULT_CHARSET
    message = Message()
    message["content-type"] = content_type
    charset = message.get_param("charset")
    return charset.strip() if isinstance(charset, str) and charset.strip() else DEFAULT_CHARSET


def decode_report(data: bytes, content_type: str | None) -> str:
    charset = report_charset(content_type)
    try:
        codec = codecs.lookup(charset)
    except LookupError:
        raise ReportEncodingError(f"report document charset {charset[:40]!r} is unknown") from None
    try:
        return data.decode(codec.name)
    except UnicodeDecodeError as exc:
        # Position only: the bytes are the seller's data.
        raise ReportEncodingError(f"report document is not valid {codec.name} at byte {exc.start}") from None


class CreateReportSpecification(SpApiModel):
    report_type: str
    marketplace_ids: list[str] = Field(min_length=1, max_length=25)
    report_options: dict[str, str] | None = None
    data_start_time: AwareDatetime | None = None
    data_end_time: AwareDatetime | None = None

    def to_wire(self) -> dict[str, Any]:
        wire = super().to_wire()
        for name, value in (("dataStartTime", self.data_start_time), ("dataEndTime", self.data_end_time)):
            if value is not None:
                wire[name] = iso8601(value)
        return wire


class CreateReportResponse(SpApiModel):
    report_id: str


class Report(SpApiModel):
    report_id: str
    report_type: str
    created_time: datetime
    processing_status: str
    marketplace_ids: list[str] | None = None
    data_start_time: datetime | None = None
    data_end_time: datetime | None = None
    report_schedule_id: str | None = None
    processing_start_time: datetime | None = None
    processing_end_time: datetime | None = None
    report_document_id: str | None = None

    @property
    def finished(self) -> bool:
        return self.processing_status in TERMINAL_STATUSES


class ReportDocument(SpApiModel):
    report_document_id: str
    url: str = Field(repr=False)
    compression_algorithm: str | None = None


class ReportsApi:
    def __init__(self, client: SpApiClient) -> None:
        self._client = client

    async def create_report(self, spec: CreateReportSpecification, *, priority: Priority | None = None) -> str:
        response = await self._client.call(CREATE_REPORT, json=spec.to_wire(), priority=priority)
        return CreateReportResponse.model_validate_json(response.content).report_id

    async def get_report(self, report_id: str, *, priority: Priority | None = None) -> Report:
        response = await self._client.call(GET_REPORT, path_params={"reportId": report_id}, priority=priority)
        return Report.model_validate_json(response.content)

    async def get_report_document(self, report_document_id: str, *, priority: Priority | None = None) -> ReportDocument:
        response = await self._client.call(
            GET_REPORT_DOCUMENT, path_params={"reportDocumentId": report_document_id}, priority=priority
        )
        return ReportDocument.model_validate_json(response.content)

    async def download_report_document(self, document: ReportDocument) -> bytes:
        return await self._client.download(
            document.url, document.compression_algorithm, operation="reports.downloadReportDocument"
        )

    async def download_report_text(self, document: ReportDocument) -> str:
        """The report as text, decoded by the charset of the download's Content-Type (default UTF-8).

        Raises ReportEncodingError when that charset is unknown or the bytes are not in it.
        """
        data, content_type = await self._client.download_typed(
            document.url, document.compression_algorithm, operation="reports.downloadReportDocument"
        )
        return decode_report(data, content_type)

    async def wait_for_report(
        self, report_id: str, *, poll_interval: float = 30.0, timeout: float | None = None
    ) -> Report:
        async with asyncio.timeout(timeout):
            while True:
                report = await self.get_report(report_id)
                if report.finished:
                    return report
                await asyncio.sleep(poll_interval)
