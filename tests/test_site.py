"""The static HTML leaderboard: a golden table, links and commands from the records, and a real browser
(headless Chromium) that sorts a column, applies a filter and takes a screenshot."""

import os
import shutil
from pathlib import Path

import pytest
from test_leaderboard import GOLDEN, paired_fixture, record

from benchmark.reporting.leaderboard import build_boards
from benchmark.reporting.site import board_table, figure_task, reproduce_command, row_sources, write_site

REPORTED = {"_about": "", "affect": {"setting": "s", "columns": [], "rows": []},
            "summarization_fscore": {"setting": "s", "columns": [], "rows": []},
            "summarization_rank": {"setting": "s", "columns": [], "rows": []}, "music": {"setting": "s", "columns": [], "rows": []}}


def located(records, root: Path):
    """Records with the paths the results layout gives them."""
    return [(root / r.task.name / r.label.replace(" ", "_") / "abc123" / f"seed={r.seed}" / f"fold={r.task.fold}.json", r)
            for r in records]


def site_fixture():
    recs = paired_fixture()
    # a still-improving row, for the converged-only filter
    recs += [record("transformer", s, f, 0.09, 0.55, convergence="still-improving") for s in range(3) for f in range(2)]
    return recs


def test_golden_site_table(tmp_path):
    root = tmp_path / "results"
    loc = located(site_fixture(), root)
    (board,) = build_boards(r for _, r in loc)
    text = board_table(board, row_sources(loc), root / "site")
    path = GOLDEN / "site_table.html"
    if os.environ.get("RLBENCH_UPDATE_GOLDEN"):
        path.write_text(text + "\n")
    assert text + "\n" == path.read_text()
    assert 'href="../synth-affect/lstm/abc123"' in text  # each row links to its records, relative to the site


def test_the_command_reproduces_the_row_from_its_records():
    recs = [record("lstm", s, f, 0.1, 0.5, overrides={"hidden": 64}, task_overrides={"lag": 10}, n_folds=5)
            for s in range(3) for f in (0, 1)]
    assert reproduce_command(recs) == ("rlbench run --task synth-affect --set lag=10 --model lstm --set hidden=64 "
                                       "--seeds 0..2 --folds 0,1")


def test_figures_go_to_the_page_of_their_task():
    tasks = ["synth-affect", "synth-affect-long", "tvsum-clips"]
    assert figure_task(Path("curves_synth-affect__lag=10.png"), tasks) == "synth-affect"
    assert figure_task(Path("curves_synth-affect-long.png"), tasks) == "synth-affect-long"
    assert figure_task(Path("importance_trace_tvsum-clips_rlmem_seed0.png"), tasks) == "tvsum-clips"
    assert figure_task(Path("memory_horizon_synth-affect.png"), tasks) == "synth-affect"
    assert figure_task(Path("something_else.png"), tasks) is None


def test_pages_are_pure_functions_of_the_records(tmp_path):
    loc = located(site_fixture(), tmp_path / "results")
    boards = build_boards(r for _, r in loc)
    first = [p.read_text() for p in write_site(loc, boards, tmp_path / "a" / "site", [], REPORTED)]
    second = [p.read_text() for p in write_site(loc, boards, tmp_path / "b" / "site", [], REPORTED)]
    assert first == second
    assert "http://" not in "".join(first) and "https://" not in "".join(first)  # nothing fetched at view time


def chromium_driver(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install -e '.[dev]')")
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.skip("no Chromium/ChromeDriver here (Debian: apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,900", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver_path), options=options)


def test_a_real_browser_sorts_by_a_column_and_filters(tmp_path):
    loc = located(site_fixture(), tmp_path / "results")
    pages = write_site(loc, build_boards(r for _, r in loc), tmp_path / "results" / "site", [], REPORTED)
    page = next(p for p in pages if p.name == "synth-affect.html")
    driver = chromium_driver(tmp_path)
    try:
        from selenium.webdriver.common.by import By

        driver.get(page.as_uri())

        def models():
            rows = driver.find_elements(By.CSS_SELECTOR, "table.board tbody tr")
            return [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows if r.is_displayed()]

        assert models()[0].startswith("oracle")  # as built: best mse first
        header = driver.find_element(By.XPATH, "//table[@class='board']//th[starts-with(., 'pearson')]")
        header.click()  # ascending pearson: the worst first
        assert models()[0] == "mlp" and header.get_attribute("aria-sort") == "ascending"
        header.click()
        assert models()[0].startswith("oracle") and models()[-1] == "mlp"
        assert any(m.startswith("transformer") for m in models())
        driver.find_element(By.ID, "converged").click()
        assert not any(m.startswith("transformer") for m in models())  # its cells are still improving
        shot = tmp_path / "site.png"
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        if os.environ.get("RLBENCH_SCREENSHOT"):
            shutil.copy(shot, os.environ["RLBENCH_SCREENSHOT"])
    finally:
        driver.quit()


def test_paper_html_writes_the_site_from_the_cli(tmp_path):
    from typer.testing import CliRunner

    from benchmark.cli import app
    from benchmark.harness.store import write_record

    results = tmp_path / "results"
    for path, rec in located(site_fixture(), results):
        write_record(path, rec)
    typo = CliRunner().invoke(app, ["paper", "--results", str(results), "--html", "--against", "lsmt"])
    assert typo.exit_code == 2 and "unknown row 'lsmt'. Did you mean 'lstm'" in typo.output
    assert not (results / "paper").exists()  # refused before anything was written
    r = CliRunner().invoke(app, ["paper", "--results", str(results), "--html"])
    assert r.exit_code == 0, r.output
    index = (results / "site" / "index.html").read_text()
    assert 'href="synth-affect.html#synth-affect_v1_0"' in index
    page = (results / "site" / "synth-affect.html").read_text()
    assert "<th>p (Holm)</th>" in page and "rlbench run --task synth-affect --model gru --seeds 0..2" in page
