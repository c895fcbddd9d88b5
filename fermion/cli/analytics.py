"""`fermion analytics …`: segmentation, funnel, retention and flows definitions; saved analyses; dashboards.

A definition is the JSON the HTTP API takes, from a file or stdin (``-``). Output is a table, one JSON
document with ``--json``, or CSV with ``--csv``. When `fermion serve` holds the embedded event store,
queries go to its worker process over the local socket.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from fermion.analytics import Runner, parse_definition, run_query, to_csv
from fermion.cli.output import emit_json, emit_table, plain
from fermion.errors import BadRequest, ConfigurationError
from fermion.events import socket_path_for
from fermion.runtime import Runtime
from fermion.settings import Settings

app = typer.Typer(
    help="Analyses over the event store: segmentation, funnels, retention, flows.", no_args_is_help=True
)
saved = typer.Typer(help="Saved analyses: save, list, run, delete.", no_args_is_help=True)
dashboards = typer.Typer(help="Dashboards of saved analyses: create, list, run.", no_args_is_help=True)
app.add_typer(saved, name="saved")
app.add_typer(dashboards, name="dashboards")

DEFINITION_HELP = "JSON definition file, or - for stdin."
WORKSPACE = typer.Option(..., "--workspace", help="Workspace id.")
AS_JSON = typer.Option(False, "--json", help="Print the result as one JSON document.")
AS_CSV = typer.Option(False, "--csv", help="Print the result as CSV.")


def _read_definition(source: str) -> Any:
    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise BadRequest(f"definition: not JSON ({error})") from None


@contextmanager
def _runtime() -> Iterator[Runtime]:
    runtime = Runtime.open(Settings())
    try:
        yield runtime
    finally:
        runtime.close()


def _runner(runtime: Runtime) -> Runner:
    """Read the event store directly, or through `fermion serve`'s worker when it holds the DuckDB file."""
    if runtime.settings.resolved_event_store_url().startswith("duckdb"):
        try:
            runtime.events.last_seq()
        except ConfigurationError:
            socket = socket_path_for(runtime.settings.data_dir)
            if not socket.exists():
                raise
            runtime.worker_socket = socket
    return runtime.analytics()


def _pct(value: Any) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def _blank(row: dict[str, Any]) -> dict[str, Any]:
    """A table row with missing values shown empty rather than as None."""
    return {k: "" if v is None else v for k, v in row.items()}


def _print(result: dict[str, Any], as_json: bool, as_csv: bool) -> None:
    if as_json:
        emit_json(result)
        return
    if as_csv:
        sys.stdout.write(to_csv(result))
        return
    kind = result["kind"]
    if kind == "segmentation":
        labels = [
            f"{s['key']} {s['name']}" + (f" [{s['group']}]" if s["group"] is not None else "")
            for s in result["series"]
        ]
        rows = [
            {
                "bucket": bucket,
                **{label: s["values"][i] for label, s in zip(labels, result["series"], strict=True)},
            }
            for i, bucket in enumerate(result["buckets"])
        ]
        rows.append(
            {
                "bucket": "total",
                **{label: s["total"] for label, s in zip(labels, result["series"], strict=True)},
            }
        )
        emit_table("Segmentation", [_blank(r) for r in rows], ["bucket", *labels])
    elif kind == "funnel":
        for group in result.get("groups") or [{"group": None, "steps": result["steps"]}]:
            rows = [
                {
                    **_blank(step),
                    "conversion_rate": _pct(step["conversion_rate"]),
                    "step_conversion_rate": _pct(step["step_conversion_rate"]),
                }
                for step in group["steps"]
            ]
            title = "Funnel" + (f" [{group['group']}]" if group["group"] is not None else "")
            columns = [
                "step",
                "name",
                "count",
                "conversion_rate",
                "step_conversion_rate",
                "drop_off",
                "avg_time_s",
                "median_time_s",
            ]
            emit_table(title, rows, columns)
        if result.get("over_time"):
            emit_table(
                "Conversion over time",
                result["over_time"],
                ["bucket", "entered", "converted", "conversion_rate"],
            )
    elif kind == "retention":
        columns = ["cohort", "size"]
        rows = []
        for cohort in result["cohorts"]:
            row: dict[str, Any] = {"cohort": cohort["cohort"], "size": cohort["size"]}
            for value in cohort["values"]:
                name = str(value.get("period", "{}-{}".format(*value.get("bracket", ["", ""]))))
                if name not in columns:
                    columns.append(name)
                row[name] = _pct(value["rate"]) + ("" if value["complete"] else "*")
            rows.append(row)
        emit_table("Retention (* = period not over)", rows, columns)
    else:
        emit_table(
            "Flows", [_blank(e) for e in result["edges"]], ["from_depth", "from", "to", "users", "avg_time_s"]
        )
        emit_table("Nodes", result["nodes"], ["depth", "event", "users", "drop_off"])


def _analysis(kind: str, source: str, workspace: int, as_json: bool, as_csv: bool) -> None:
    query = parse_definition(kind, _read_definition(source))
    with _runtime() as runtime:
        runtime.tenancy.get_workspace(workspace)
        result = run_query(_runner(runtime), workspace, query)
    _print(result, as_json, as_csv)


@app.command("segment")
def segment(
    definition: str = typer.Argument(..., help=DEFINITION_HELP),
    workspace: int = WORKSPACE,
    as_json: bool = AS_JSON,
    as_csv: bool = AS_CSV,
) -> None:
    """Segmentation: series per interval (and group) of event totals, users or a numeric aggregate."""
    _analysis("segmentation", definition, workspace, as_json, as_csv)


@app.command("funnel")
def funnel(
    definition: str = typer.Argument(..., help=DEFINITION_HELP),
    workspace: int = WORKSPACE,
    as_json: bool = AS_JSON,
    as_csv: bool = AS_CSV,
) -> None:
    """Funnel: users per step, conversion and step times."""
    _analysis("funnel", definition, workspace, as_json, as_csv)


@app.command("retention")
def retention(
    definition: str = typer.Argument(..., help=DEFINITION_HELP),
    workspace: int = WORKSPACE,
    as_json: bool = AS_JSON,
    as_csv: bool = AS_CSV,
) -> None:
    """Retention: cohorts by start period and the share returning in each later period."""
    _analysis("retention", definition, workspace, as_json, as_csv)


@app.command("flows")
def flows(
    definition: str = typer.Argument(..., help=DEFINITION_HELP),
    workspace: int = WORKSPACE,
    as_json: bool = AS_JSON,
    as_csv: bool = AS_CSV,
) -> None:
    """User flows: the paths after (or before) an event."""
    _analysis("flows", definition, workspace, as_json, as_csv)


@saved.command("save")
def save(
    kind: str = typer.Argument(..., help="segmentation, funnel, retention or flows."),
    definition: str = typer.Argument(..., help=DEFINITION_HELP),
    name: str = typer.Option(..., "--name", help="Name of the analysis."),
    workspace: int = WORKSPACE,
    as_json: bool = AS_JSON,
) -> None:
    """Save a definition under a name."""
    raw = _read_definition(definition)
    with _runtime() as runtime:
        runtime.tenancy.get_workspace(workspace)
        created = runtime.saved_analyses.save(workspace, name, kind, raw)
    if as_json:
        emit_json(created)
    else:
        typer.echo(f"Saved analysis {created.id}: {created.name} ({created.kind})")


@saved.command("list")
def list_saved(workspace: int = WORKSPACE, as_json: bool = AS_JSON) -> None:
    """The workspace's saved analyses."""
    with _runtime() as runtime:
        found = runtime.saved_analyses.analyses(workspace)
    if as_json:
        emit_json(found)
    else:
        emit_table("Saved analyses", [plain(a) for a in found], ["id", "name", "kind", "updated_ms"])


@saved.command("run")
def run_saved(
    analysis_id: int = typer.Argument(..., help="Saved analysis id."),
    workspace: int = WORKSPACE,
    as_json: bool = AS_JSON,
    as_csv: bool = AS_CSV,
) -> None:
    """Run a saved analysis on the events as they are now."""
    with _runtime() as runtime:
        query = runtime.saved_analyses.get(workspace, analysis_id).query()
        result = run_query(_runner(runtime), workspace, query)
    _print(result, as_json, as_csv)


@saved.command("delete")
def delete_saved(
    analysis_id: int = typer.Argument(..., help="Saved analysis id."),
    workspace: int = WORKSPACE,
    as_json: bool = AS_JSON,
) -> None:
    """Delete a saved analysis."""
    with _runtime() as runtime:
        runtime.saved_analyses.delete(workspace, analysis_id)
    if as_json:
        emit_json({"deleted": analysis_id})
    else:
        typer.echo(f"Deleted analysis {analysis_id}")


@dashboards.command("create")
def create_dashboard(
    name: str = typer.Option(..., "--name", help="Name of the dashboard."),
    analyses: list[int] = typer.Option([], "--analysis", help="Saved analysis id (repeat, in order)."),
    workspace: int = WORKSPACE,
    as_json: bool = AS_JSON,
) -> None:
    """Create a dashboard of saved analyses."""
    with _runtime() as runtime:
        created = runtime.saved_analyses.create_dashboard(workspace, name, analyses)
    if as_json:
        emit_json(created)
    else:
        typer.echo(f"Dashboard {created.id}: {created.name} ({len(created.analysis_ids)} analyses)")


@dashboards.command("list")
def list_dashboards(workspace: int = WORKSPACE, as_json: bool = AS_JSON) -> None:
    """The workspace's dashboards."""
    with _runtime() as runtime:
        found = runtime.saved_analyses.dashboards(workspace)
    if as_json:
        emit_json(found)
    else:
        emit_table("Dashboards", [plain(d) for d in found], ["id", "name", "analysis_ids"])


@dashboards.command("run")
def run_dashboard(
    dashboard_id: int = typer.Argument(..., help="Dashboard id."),
    workspace: int = WORKSPACE,
    as_json: bool = AS_JSON,
) -> None:
    """Run every analysis of a dashboard."""
    with _runtime() as runtime:
        board = runtime.saved_analyses.dashboard(workspace, dashboard_id)
        runner = _runner(runtime)
        results = []
        for analysis_id in board.analysis_ids:
            analysis = runtime.saved_analyses.get(workspace, analysis_id)
            results.append((analysis, run_query(runner, workspace, analysis.query())))
    if as_json:
        emit_json({"dashboard": board, "results": [{"analysis": a, "result": r} for a, r in results]})
        return
    for analysis, result in results:
        typer.echo(f"== {analysis.name}")
        _print(result, False, False)
