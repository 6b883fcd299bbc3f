"""The CloudEvents 1.0 envelope every Kafka value carries, with a deterministic id so re-emits deduplicate.

`type` is the topic name (e.g. `order.received`); the payload's major version is in `dataschema`
(`urn:amazon-connector:schema:order.received:v1`), which is also the `$id` of the exported JSON Schema.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from contracts.errors import ContractError
from contracts.fields import Timestamp
from contracts.topics import TopicSpec, topic_spec

__all__ = ["EVENT_ID_NAMESPACE", "CloudEvent", "dataschema_uri", "event_id", "new_event"]

EVENT_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:amazon-connector:event-id")
"""uuid5 namespace of event ids. Publishers in other languages use it to derive the same ids."""

T = TypeVar("T", bound=BaseModel)

_Attribute = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^\S+$")]


class CloudEvent(BaseModel, Generic[T]):
    """A structured-mode CloudEvent whose `data` is the topic's payload model."""

    # Unknown attributes are ignored, not rejected: CloudEvents lets producers add extensions (traceparent...).
    model_config = ConfigDict(frozen=True, extra="ignore")

    specversion: Literal["1.0"]
    id: _Attribute = Field(description="uuid5(EVENT_ID_NAMESPACE, '<type>:<business key>:<revision>').")
    source: _Attribute = Field(description="Producing service, e.g. 'orders-ingest'.")
    type: _Attribute = Field(description="The topic name, e.g. 'order.received'.")
    time: Timestamp = Field(description="When the fact happened (not when it was published).")
    subject: _Attribute | None = Field(default=None, description="The business key, e.g. the order id.")
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: _Attribute | None = Field(default=None, description="Schema URI of `data`, with major version.")
    correlationid: _Attribute | None = Field(
        default=None, description="Id shared by every event of one flow; the first event's id."
    )
    causationid: _Attribute | None = Field(default=None, description="Id of the event that caused this one.")
    connectionid: _Attribute | None = Field(default=None, description="Seller connection the event is about.")
    data: T


def dataschema_uri(spec: TopicSpec) -> str:
    return f"urn:amazon-connector:schema:{spec.name}:v{spec.major_version}"


def business_key(spec: TopicSpec, data: BaseModel) -> str:
    return ":".join(str(getattr(data, name)) for name in spec.identity_fields)


def event_id(topic: str, business_key: str, revision: str) -> str:
    """Same topic, business key and revision give the same id, so a re-emitted event is dropped downstream."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{topic}:{business_key}:{revision}"))


def new_event(
    topic: str,
    data: BaseModel,
    *,
    source: str,
    revision: str,
    correlationid: str | None = None,
    causationid: str | None = None,
    connectionid: str | None = None,
    subject: str | None = None,
    time: datetime | None = None,
) -> CloudEvent[Any]:
    """Wrap a payload for `topic`.

    `revision` names the version of the fact (an order's LastUpdateDate, a connection's revision, a stock
    `as_of`). Defaults: `time` now, `correlationid` the event's own id (it starts a flow), `connectionid`
    the payload's `connection_id`, `subject` the Kafka key.
    """
    spec = topic_spec(topic)
    if not isinstance(data, spec.payload):
        raise TypeError(f"{topic} carries {spec.payload.__name__}, not {type(data).__name__}")
    if not revision:
        raise ContractError(f"{topic}: cannot build event", [{"field": "revision", "message": "must not be empty"}])
    eid = event_id(topic, business_key(spec, data), revision)
    payload_connection = getattr(data, "connection_id", None)
    try:
        return CloudEvent[spec.payload](  # type: ignore[name-defined]
            specversion="1.0",
            id=eid,
            source=source,
            type=topic,
            time=time if time is not None else datetime.now(UTC),
            subject=subject if subject is not None else str(getattr(data, spec.key_field)),
            dataschema=dataschema_uri(spec),
            correlationid=correlationid if correlationid is not None else eid,
            causationid=causationid,
            connectionid=connectionid if connectionid is not None else payload_connection,
            data=data,
        )
    except ValidationError as exc:
        raise ContractError.from_validation_error(f"{topic}: cannot build event", exc) from exc
