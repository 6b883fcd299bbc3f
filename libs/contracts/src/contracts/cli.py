"""`python -m contracts`: validate files against a topic's contract, print examples, topics and schemas."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from contracts.codec import decode
from contracts.errors import ContractError, UnknownTopicError, field_errors
from contracts.examples import EXAMPLES, example_event
from contracts.export import IncompatibleSchemaError, render, write_schemas
from contracts.strimzi import kafka_resources
from contracts.topics import TOPICS, kafka_topics, topic_spec

__all__ = ["main"]


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    parser = argparse.ArgumentParser(prog="python -m contracts", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    validate = sub.add_parser(
        "validate",
        help="validate a JSON file: a whole CloudEvent (has 'specversion') or just its data payload",
    )
    validate.add_argument("topic")
    validate.add_argument("file", type=Path)

    example = sub.add_parser("example", help="print an example event of a topic")
    example.add_argument("topic")
    example.add_argument("--index", type=int, default=0, help="which example (default 0)")
    example.add_argument("--data-only", action="store_true", help="print only the payload")

    schemas = sub.add_parser("schemas", help="regenerate the JSON Schemas and the AsyncAPI document")
    schemas.add_argument("directory", nargs="?", type=Path, help="default: libs/contracts/schemas")
    schemas.add_argument(
        "--allow-breaking", action="store_true", help="overwrite even if a committed schema would break"
    )

    topics = sub.add_parser("topics", help="print every topic to create (dead-letter topics included)")
    topics.add_argument(
        "--format",
        choices=("json", "lines"),
        default="json",
        help="lines: 'NAME PARTITIONS key=value,...' per topic, for `while read` in shell scripts",
    )

    kafka = sub.add_parser("kafka-resources", help="write Strimzi KafkaTopic and KafkaUser YAML from the registry")
    kafka.add_argument("directory", type=Path, help="where topics.yaml and users.yaml go (deploy/k8s/base/kafka)")
    kafka.add_argument("--cluster", default="connector", help="the Strimzi Kafka cluster (strimzi.io/cluster)")
    kafka.add_argument("--replicas", type=int, default=3, help="replication factor (default 3)")
    kafka.add_argument("--min-insync-replicas", type=int, default=2, help="min.insync.replicas (default 2)")

    args = parser.parse_args(argv)
    try:
        if args.command == "validate":
            return _validate(args.topic, args.file, out, err)
        if args.command == "example":
            return _example(args.topic, args.index, args.data_only, out, err)
        if args.command == "schemas":
            return _schemas(args.directory, args.allow_breaking, out, err)
        if args.command == "kafka-resources":
            return _kafka_resources(args.directory, args.cluster, args.replicas, args.min_insync_replicas, out)
        return _topics(args.format, out)
    except UnknownTopicError as exc:
        print(f"error: {exc}", file=err)
        return 2


def _validate(topic: str, file: Path, out: TextIO, err: TextIO) -> int:
    spec = topic_spec(topic)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {file}: {exc.strerror}", file=err)
        return 2
    try:
        document: Any = json.loads(raw)
    except ValueError as exc:
        print(f"{file}: not valid JSON: {exc}", file=err)
        return 1
    try:
        if isinstance(document, dict) and "specversion" in document:
            decode(topic, raw)
            what = "CloudEvent"
        else:
            try:
                spec.payload.model_validate(document)
            except ValidationError as exc:
                raise ContractError(f"{topic}: invalid data", field_errors(exc)) from exc
            what = f"{spec.payload.__name__} payload"
    except ContractError as exc:
        print(f"{file}: {exc.context}", file=err)
        for error in exc.errors:
            print(f"  {error['field'] or '(value)'}: {error['message']}", file=err)
        return 1
    print(f"{file}: valid {what} for {topic}", file=out)
    return 0


def _example(topic: str, index: int, data_only: bool, out: TextIO, err: TextIO) -> int:
    topic_spec(topic)
    count = len(EXAMPLES[topic])
    if not 0 <= index < count:
        print(f"error: {topic} has {count} example(s): index 0 to {count - 1}", file=err)
        return 2
    event = example_event(topic, index)
    document = event.data.model_dump(mode="json") if data_only else event.model_dump(mode="json", exclude_none=True)
    out.write(render(document))
    return 0


def _schemas(directory: Path | None, allow_breaking: bool, out: TextIO, err: TextIO) -> int:
    target = directory or _default_schema_dir()
    if target is None:
        print("error: not run from the source tree; pass the output DIRECTORY", file=err)
        return 2
    try:
        changed = write_schemas(target, allow_breaking=allow_breaking)
    except IncompatibleSchemaError as exc:
        print(f"error: {exc}", file=err)
        return 1
    for path in changed:
        print(f"wrote {path}", file=out)
    print(f"{len(changed)} file(s) changed in {target} ({len(TOPICS)} event schemas + asyncapi.json)", file=out)
    return 0


def _default_schema_dir() -> Path | None:
    # Editable install: <repo>/libs/contracts/src/contracts/cli.py -> <repo>/libs/contracts/schemas.
    package_root = Path(__file__).resolve().parents[2]
    if (package_root / "pyproject.toml").is_file() and (package_root / "src" / "contracts").is_dir():
        return package_root / "schemas"
    return None


def _topics(fmt: str, out: TextIO) -> int:
    if fmt == "lines":
        for t in kafka_topics():
            out.write(f"{t.name} {t.partitions} {','.join(f'{k}={v}' for k, v in t.configs.items())}\n")
        return 0
    document = [{"name": t.name, "partitions": t.partitions, "configs": t.configs} for t in kafka_topics()]
    out.write(json.dumps(document, indent=2) + "\n")
    return 0


def _kafka_resources(directory: Path, cluster: str, replicas: int, min_insync: int, out: TextIO) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in kafka_resources(cluster, replicas, min_insync).items():
        (directory / name).write_text(text)
        print(f"wrote {directory / name}", file=out)
    return 0
