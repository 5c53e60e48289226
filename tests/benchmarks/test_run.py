"""``benchmarks/run.py``: re-running a section replaces its generated text and keeps its notes."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import load_bench


def test_rerun_keeps_the_hand_written_notes_of_a_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = load_bench("run")
    (tmp_path / "bench_fake.py").write_text("def run():\n    return '## fake\\n\\nrate 2 files/s\\n'\n")
    out = tmp_path / "BENCHMARKS.md"
    out.write_text(
        "# Benchmarks\n\n<!-- bench:fake -->\n## fake\n\nrate 1 files/s\n\n_Measured 2026-01-01 on x._\n\n"
        "### a change, measured (2026-01-02)\n\nbefore 1, after 2.\n\n"
        "<!-- bench:other -->\n## other\n\nkept as it is\n"
    )
    monkeypatch.setattr(run, "HERE", tmp_path)
    monkeypatch.setattr(run, "OUT", out)
    monkeypatch.setattr(run, "_machine", lambda: "test machine")
    for _ in range(2):  # twice: the notes stay once
        run.main(["fake"])
        text = out.read_text()
        fake = text[text.index("<!-- bench:fake -->") : text.index("<!-- bench:other -->")]
        assert "rate 2 files/s" in fake and "rate 1 files/s" not in fake
        assert fake.count("### a change, measured (2026-01-02)\n\nbefore 1, after 2.") == 1
        assert fake.index("on test machine._") < fake.index("### a change")
        assert "## other\n\nkept as it is" in text
    assert run.notes_of("## x\n\nno notes\n") == ""
