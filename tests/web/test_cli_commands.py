"""`postroom migrate` and `postroom check` on a real database file."""


def test_migrate_then_check_reports_everything_fine(run_cli):
    plan = run_cli("migrate", "--plan")
    assert plan.returncode == 0, plan.stderr
    assert "audience" in plan.stdout

    before = run_cli("check")
    assert before.returncode == 1
    assert "not applied" in before.stdout

    migrated = run_cli("migrate")
    assert migrated.returncode == 0, migrated.stderr
    after = run_cli("check")
    assert after.returncode == 0, after.stderr
    assert "OK: configuration valid, sqlite3 database reachable and up to date." in after.stdout


def test_migrate_refuses_an_unknown_app(run_cli):
    result = run_cli("migrate", "nosuchapp")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("postroom: No installed app with label 'nosuchapp'")
