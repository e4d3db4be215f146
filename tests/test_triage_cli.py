"""`python -m bot train` and `python -m bot eval` as a user runs them: real files, real
training, the model folder on disk, JSON on stdout, exit codes."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "triage"
TICKETS = FIXTURES / "tickets.jsonl"
ISSUES = FIXTURES / "issues.csv"
ISSUE_MAPS = ["--text-cols", "title,body", "--label-col", "label",
              "--map", "bug=Bug report", "--map", "feature=Feature request", "--map", "question=Technical"]


def run(*args, env=None):
    result = CliRunner().invoke(main, [str(a) for a in args], env={"HELPDESK": "sample", **(env or {})})
    return result


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("model")
    result = run("train", TICKETS, "--out", out, "--folds", "3")
    assert result.exit_code == 0, result.output
    return out, result


def test_train_writes_a_model_and_reports_cross_validation(trained):
    out, result = trained
    report = json.loads(result.stdout)
    assert report["n"] == 48 and report["categories"]["Billing"] == 8
    cv = report["cross_validation"]
    assert cv["n"] == 48 and cv["folds"] == 3
    assert 0 <= cv["ece"] <= 1 and cv["temperature"] > 0
    # 8 clear tickets per category: a working model is far above chance (1/6).
    assert cv["accuracy"] > 0.3  # chance is 1/6; min_df=2 leaves tiny data few words
    manifest = json.loads((out / "model.json").read_text())
    assert manifest["labels"] == ["Billing", "Technical", "Feature request", "Bug report",
                                  "Account access", "Other"]
    assert manifest["priority_levels"] == [2, 3, 4, 5]  # the data has priorities: a head
    assert "fold 3/3 done" in result.stderr


def test_eval_prints_one_json_object_with_every_figure(trained):
    out, _ = trained
    result = run("eval", TICKETS, "--model", out)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for key in ("n", "accuracy", "macro_f1", "per_class", "confusion", "mean_confidence", "ece",
                "threshold", "above_threshold"):
        assert key in report
    assert report["n"] == 48 and report["threshold"] == 0.7  # the policy's threshold
    # Its own training data: nearly all right, and the counts add up.
    assert report["accuracy"] >= 0.9
    matrix = report["confusion"]["matrix"]
    assert sum(map(sum, matrix)) == 48
    assert report["per_class"]["Billing"]["support"] == 8
    assert set(report["above_threshold"]) == {"share", "n", "accuracy"}
    assert report["priority"]["n"] == 48 and report["language"]["accuracy"] == 1.0


def test_eval_threshold_option_changes_the_share_above_it(trained):
    out, _ = trained
    low = json.loads(run("eval", TICKETS, "--model", out, "--threshold", "0").stdout)
    high = json.loads(run("eval", TICKETS, "--model", out, "--threshold", "1").stdout)
    assert low["above_threshold"]["share"] == 1.0
    assert high["above_threshold"]["share"] == 0.0 and high["above_threshold"]["accuracy"] is None


def test_csv_with_column_mapping_trains_and_evaluates(tmp_path):
    result = run("train", ISSUES, "--out", tmp_path, "--folds", "2", *ISSUE_MAPS)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["categories"] == {"Technical": 8, "Feature request": 8, "Bug report": 8}
    report = json.loads(run("eval", ISSUES, "--model", tmp_path, *ISSUE_MAPS).stdout)
    assert report["n"] == 24
    assert report["per_class"]["Bug report"]["support"] == 8


def test_training_twice_on_the_same_data_gives_the_same_files(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        assert run("train", TICKETS, "--out", out, "--folds", "2", "--name", "same").exit_code == 0
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    assert "model.json" in names and "coef.npy" in names
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def _error(result):
    assert result.exit_code == 2, result.output
    assert result.stdout == ""  # nothing half-written on stdout
    return result.stderr


@pytest.mark.parametrize("command", ["train", "eval"])
def test_input_errors_exit_2_with_a_clear_message(tmp_path, command):
    extra = ["--out", tmp_path / "m"] if command == "train" else []
    missing = _error(run(command, tmp_path / "nope.jsonl", *extra))
    assert "no such file" in missing

    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"subject": "a", "body": "b", "category": "Billing"}\n{oops\n')
    assert "line 2: not JSON" in _error(run(command, bad_json, *extra))

    unknown = tmp_path / "unknown.jsonl"
    unknown.write_text('{"subject": "a", "body": "b", "category": "Sales"}\n')
    message = _error(run(command, unknown, *extra))
    assert "'Sales'" in message and "--map" in message

    no_column = _error(run(command, ISSUES, *extra))  # CSV without subject/body/category
    assert "no column 'subject', 'category'" in no_column and "--text-cols" in no_column

    bad_map = _error(run(command, ISSUES, *extra, "--label-col", "label", "--map", "bug=Bugs"))
    assert "'Bugs' is not a category" in bad_map

    bad_priority = tmp_path / "prio.jsonl"
    bad_priority.write_text('{"subject": "a", "body": "b", "category": "Billing", "priority": 9}\n')
    assert "line 1: priority must be 1-5" in _error(run(command, bad_priority, *extra))

    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("subject,body,category\ncaf\xe9,x,Billing\n".encode("latin-1"))
    assert "not UTF-8" in _error(run(command, latin1, *extra))

    unknown_format = tmp_path / "tickets.txt"
    unknown_format.write_text("x")
    assert "unknown format" in _error(run(command, unknown_format, *extra))


def test_train_refuses_a_category_with_a_single_ticket(tmp_path):
    data = tmp_path / "one.jsonl"
    lines = [{"subject": f"invoice {i}", "body": "charged", "category": "Billing"} for i in range(5)]
    lines.append({"subject": "dark mode", "body": "please add", "category": "Feature request"})
    data.write_text("\n".join(json.dumps(line) for line in lines))
    message = _error(run("train", data, "--out", tmp_path / "m"))
    assert "at least 2 tickets" in message and "Feature request" in message


def test_map_can_drop_labels(tmp_path):
    result = run("train", ISSUES, "--out", tmp_path, "--folds", "2", "--text-cols", "title,body",
                 "--label-col", "label", "--map", "bug=Bug report", "--map", "feature=Feature request",
                 "--map", "question=-")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["categories"] == {"Feature request": 8, "Bug report": 8}


def test_eval_without_a_model_uses_the_bundled_one():
    report = json.loads(run("eval", TICKETS).stdout)
    assert report["model"].startswith("local:triage-default@") and report["n"] == 48


def test_a_single_text_column_is_the_body(tmp_path):
    from bot.triage.cli import columns_for
    from bot.triage.data import read_tickets

    data = tmp_path / "chat.csv"
    data.write_text("message,label\nI was charged twice,billing\n")
    ticket = read_tickets(data, columns_for("message", "label"), {"billing": "Billing"})[0]
    assert (ticket.subject, ticket.body) == ("", "I was charged twice")
    two = read_tickets(ISSUES, columns_for("title,body", "label"), {"bug": "Bug report", "feature": "-",
                                                                     "question": "-"})[0]
    assert (two.subject, two.body.split("\n")[0]) == (
        "App crashes", "The app crashes when I upload a PNG larger than 5 MB.")
    result = run("eval", data, "--text-cols", "message", "--label-col", "label", "--map", "billing=Billing")
    assert result.exit_code == 0 and json.loads(result.stdout)["n"] == 1
