"""A self-contained HTML report (charts inlined as PNG) for people who are not in the chat."""

from __future__ import annotations

import base64
import html
import io

from bot.store.stats import Stats, render_chart
from tasks.evaluation.harness import EvalReport


def _png(data: bytes) -> str:
    return f'<img alt="chart" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _scatter(report: EvalReport) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 5), dpi=100)
    scored = [r for r in report.items if r.model_score is not None]
    axis.scatter([r.recruiter_score for r in scored], [r.model_score for r in scored], alpha=0.6)
    axis.plot([1, 10], [1, 10], linestyle="--", color="grey")
    axis.set_xlabel("recruiter score")
    axis.set_ylabel(f"{report.provider} score")
    axis.set_title("Feedback scores vs recruiter annotations")
    axis.set_xlim(0.5, 10.5)
    axis.set_ylim(0.5, 10.5)
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def _fmt(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape(str(value))


def _table(title: str, rows: dict[str, object]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in rows.items())
    return f"<h2>{html.escape(title)}</h2><table>{body}</table>"


def render_html(report: EvalReport, stats: Stats | None = None) -> str:
    sections = [
        _table("JSON validity", report.json_validity.model_dump()),
        _table("Feedback accuracy vs recruiter annotations", report.accuracy.model_dump()),
        _png(_scatter(report)),
        _table("Question diversity", report.diversity.model_dump()),
    ]
    if report.relevance is not None:
        sections.append(_table("Question relevance to the role", report.relevance.model_dump()))
    if report.satisfaction is not None:
        sections.append(_table("Candidate satisfaction", report.satisfaction.model_dump()))
    if report.agreement is not None:
        sections.append(_table("Agreement on the held-out annotated set", report.agreement.model_dump()))
    if report.remarks is not None:
        sections.append(_table("Offline remarks true, held-out labels", report.remarks.model_dump()))
    if stats is not None:
        sections.append(f"<h2>Satisfaction over time</h2><pre>{html.escape(stats.as_text())}</pre>")
        sections.append(_png(render_chart(stats)))
    rows = "".join(
        f"<tr><td>{html.escape(r.id)}</td><td>{html.escape(r.role)}</td><td>{r.kind}</td>"
        f"<td>{r.recruiter_score}</td><td>{_fmt(r.model_score)}</td><td>{_fmt(r.strengths_overlap)}</td>"
        f"<td>{_fmt(r.weaknesses_overlap)}</td></tr>" for r in report.items)
    sections.append("<h2>Per answer</h2><table><tr><th>id</th><th>role</th><th>kind</th><th>recruiter</th>"
                    f"<th>model</th><th>strengths overlap</th><th>weaknesses overlap</th></tr>{rows}</table>")
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Mockingbird evaluation</title>"
            "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}table{border-collapse:collapse;"
            "margin-bottom:1em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style></head><body>"
            f"<h1>Mockingbird evaluation: {html.escape(report.provider)}</h1>"
            f"<p>{report.created_at:%Y-%m-%d %H:%M} UTC, {len(report.items)} annotated answers.</p>"
            + (f"<ul>{notes}</ul>" if notes else "") + "".join(sections) + "</body></html>")
