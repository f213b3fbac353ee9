"""The README's scope table says what the code requests."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_celonis.apis import ALL_APIS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_scope_table_matches_the_api_registry() -> None:
    rows = [line for line in README.splitlines() if line.startswith("| ") and "`" in line]
    for api in ALL_APIS.values():
        if not api.scope:
            continue
        row = next(
            (
                r
                for r in rows
                if f"| `{api.scope}` |" in r
                and (f"`{api.prefix}`" in r or (not api.prefix and "(none)" in r))
            ),
            None,
        )
        assert row is not None, f"README has no scope-table row for {api.key} ({api.scope}, {api.prefix!r})"
        for variant in api.scope_variants:
            assert variant.split(":")[-1] in row or variant in row, (api.key, variant)


def test_readme_gives_the_two_commands() -> None:
    assert "make demo" in README and "make test" in README
    assert "## Migrating from API and application keys to OAuth" in README
