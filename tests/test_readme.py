"""The README's scope table says what the code requests."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_celonis.apis import ALL_APIS

README_PATH = Path(__file__).resolve().parent.parent / "README.md"
README = README_PATH.read_text()


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


def test_every_public_class_is_documented() -> None:
    import importlib
    import inspect

    from airflow_provider_celonis.get_provider_info import get_provider_info

    docs = README + "".join(p.read_text() for p in (README_PATH.parent / "docs").glob("*.md"))
    info = get_provider_info()
    modules = [
        m
        for kind in ("hooks", "operators", "sensors", "triggers")
        for e in info[kind]
        for m in e["python-modules"]
    ] + ["airflow_provider_celonis.links"]
    missing = []
    for name in modules:
        module = importlib.import_module(name)
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == name and cls_name.startswith("Celonis") and f"`{cls_name}`" not in docs:
                missing.append(f"{name}.{cls_name}")
    assert not missing, f"not in README.md or docs/: {missing}"
