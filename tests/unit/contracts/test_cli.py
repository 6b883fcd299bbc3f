import io
import json
import subprocess
import sys

from contracts import EXAMPLES, decode, kafka_topics
from contracts.cli import main
from contracts.export import generated_files


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_validate_accepts_a_whole_cloudevent(tmp_path):
    _, event, _ = run("example", "order.received")
    path = tmp_path / "event.json"
    path.write_text(event)

    assert run("validate", "order.received", str(path)) == (0, f"{path}: valid CloudEvent for order.received\n", "")


def test_validate_accepts_just_the_payload(tmp_path):
    path = tmp_path / "stock.json"
    path.write_text(json.dumps(EXAMPLES["stock.changed"][1]))

    code, out, _ = run("validate", "stock.changed", str(path))

    assert code == 0
    assert "valid StockChangedV1 payload" in out


def test_validate_lists_field_errors_and_exits_1(tmp_path):
    path = tmp_path / "stock.json"
    path.write_text(json.dumps({**EXAMPLES["stock.changed"][0], "sku": "S" * 41, "available": -1, "colour": "red"}))

    code, out, err = run("validate", "stock.changed", str(path))

    assert code == 1
    assert out == ""
    assert err.splitlines()[1:] == [
        "  sku: String should have at most 40 characters",
        "  available: Input should be greater than or equal to 0",
        "  colour: unknown field (not in the contract)",
    ]


def test_validate_reports_envelope_fields_with_their_path(tmp_path):
    _, event, _ = run("example", "stock.changed")
    document = json.loads(event)
    document["data"]["as_of"] = "2026-08-06T13:59:12"
    path = tmp_path / "event.json"
    path.write_text(json.dumps(document))

    code, _, err = run("validate", "stock.changed", str(path))

    assert code == 1
    assert "  data.as_of: must be an RFC 3339 timestamp" in err


def test_validate_malformed_json_exits_1(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{")

    code, _, err = run("validate", "stock.changed", str(path))

    assert code == 1
    assert "not valid JSON" in err


def test_unknown_topic_or_missing_file_is_a_usage_error(tmp_path):
    assert run("validate", "stock.change", str(tmp_path / "x.json"))[0] == 2
    assert run("validate", "stock.changed", str(tmp_path / "missing.json"))[0] == 2
    assert run("example", "nope")[0] == 2
    assert run("example", "stock.changed", "--index", "9")[0] == 2


def test_example_prints_an_event_that_decodes():
    code, out, _ = run("example", "shipment.created")

    assert code == 0
    assert decode("shipment.created", out.encode()).data.shipment_id == "SHP-2026-0806-00412"


def test_example_data_only_prints_the_payload():
    code, out, _ = run("example", "order.completed", "--index", "1", "--data-only")

    assert code == 0
    assert json.loads(out)["cancel_reason"] == "NoInventory"


def test_topics_prints_every_topic_to_create():
    code, out, _ = run("topics")

    assert code == 0
    assert json.loads(out) == [
        {"name": t.name, "partitions": t.partitions, "configs": t.configs} for t in kafka_topics()
    ]


def test_topics_lines_for_shell_scripts():
    _, out, _ = run("topics", "--format", "lines")

    assert "connection.updated 3 cleanup.policy=compact,retention.ms=-1,delete.retention.ms=604800000" in out
    assert out.splitlines()[-1].startswith("dlq.pii-redactor 1 cleanup.policy=delete,")


def test_schemas_writes_every_artifact_then_nothing_when_unchanged(tmp_path):
    code, _, _ = run("schemas", str(tmp_path))

    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(generated_files())
    assert run("schemas", str(tmp_path))[1].startswith("0 file(s) changed")


def test_schemas_refuses_to_overwrite_with_a_breaking_change(tmp_path):
    run("schemas", str(tmp_path))
    committed = tmp_path / "stock.changed.v1.json"
    schema = json.loads(committed.read_text())
    # As if the model had dropped a field that the committed schema still promises.
    schema["$defs"]["StockChangedV1"]["properties"]["bin"] = {"type": "string"}
    committed.write_text(json.dumps(schema))

    code, _, err = run("schemas", str(tmp_path))

    assert code == 1
    assert "StockChangedV1).bin: removed" in err
    assert json.loads(committed.read_text()) == schema
    assert run("schemas", str(tmp_path), "--allow-breaking")[0] == 0


def test_python_dash_m_contracts_runs_the_cli():
    result = subprocess.run(
        [sys.executable, "-m", "contracts", "example", "stock.changed", "--data-only"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["sku"] == "TENT-2P-GRN"
