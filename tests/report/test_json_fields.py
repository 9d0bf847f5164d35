"""The JSON field lists of ``report/json.py`` are the one description of a report's fields: the
schema, the writer and the reader must agree with them."""

from __future__ import annotations

import json
from pathlib import Path

from symaudit.findings import Finding, Severity
from symaudit.report import json as json_report
from symaudit.report.formats import FORMATS
from symaudit.report.from_json import report_from_dict
from symaudit.results import AppFacts, InputRecord, LibraryRecord, Report

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "symaudit" / "schemas" / "report-1.json").read_text())
PROPS = SCHEMA["properties"]


def _listed_first(properties: dict, fields: tuple[str, ...]) -> None:
    assert list(properties)[: len(fields)] == list(fields)


def test_schema_lists_the_fields_of_report_json_in_output_order() -> None:
    _listed_first(PROPS, json_report.REPORT_FIELDS)
    assert set(SCHEMA["required"]) <= set(json_report.REPORT_FIELDS)
    _listed_first(PROPS["input"]["properties"], json_report.INPUT_FIELDS)
    _listed_first(PROPS["app"]["properties"], json_report.APP_FIELDS)
    _listed_first(PROPS["summary"]["properties"], json_report.SUMMARY_FIELDS)
    for key, fields in (("libraries", json_report.LIBRARY_FIELDS), ("findings", json_report.FINDING_FIELDS)):
        items = PROPS[key]["items"]
        _listed_first(items["properties"], fields)
        assert set(items["required"]) <= set(fields)


def _report() -> Report:
    finding = Finding("missing-library", Severity.ERROR, "x86", "liba.so", "m", "h", needed="libb.so",
                      searched=("liba.so",), extra=(("suggestion", None),))
    library = LibraryRecord("x86", "liba.so", "lib/x86/liba.so", "00", 12, needed=("libb.so",),
                            extra=(("ndk", None),))
    return Report(InputRecord("app.apk", "apk", None), (library,), (finding,),
                  app=AppFacts(min_sdk=21, min_sdk_source="--min-sdk"))


def test_written_reports_have_the_listed_fields_then_the_added_ones() -> None:
    data = json_report.report_dict(_report())
    assert tuple(data)[: len(json_report.REPORT_FIELDS)] == json_report.REPORT_FIELDS
    assert tuple(data["summary"]) == json_report.SUMMARY_FIELDS
    assert tuple(data["libraries"][0]) == (*json_report.LIBRARY_FIELDS, "ndk")
    assert tuple(data["findings"][0]) == (*json_report.FINDING_FIELDS, "suggestion")


def test_a_report_read_back_renders_to_the_same_bytes() -> None:
    text = json_report.render(_report())
    assert json_report.render(report_from_dict(json.loads(text))) == text


def test_every_format_of_the_registry_renders_a_report() -> None:
    assert set(FORMATS) == {"text", "json", "sarif", "markdown", "github"}
    for render in FORMATS.values():
        assert isinstance(render(_report()), str)
