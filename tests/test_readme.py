"""The README's scope table says what the code requests."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_celonis.client.apis import ALL_APIS

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


def test_every_public_exception_is_documented() -> None:
    import inspect

    from airflow_provider_celonis import exceptions

    docs = README + "".join(p.read_text() for p in (README_PATH.parent / "docs").glob("*.md"))
    public = [
        name
        for name, cls in inspect.getmembers(exceptions, inspect.isclass)
        if cls.__module__ == exceptions.__name__ and not name.startswith("_")
    ]
    assert "CelonisError" in public and len(public) > 10
    missing = [name for name in public if f"| `{name}` |" not in README]
    assert not missing, f"no row in the README's exception table: {missing}"
    assert not [name for name in public if f"`{name}`" not in docs]


def test_readme_says_how_to_install_and_which_airflow() -> None:
    assert "make dist" in README and "pip install dist/airflow_provider_celonis-" in README
    assert "AIRFLOW__CORE__TEST_CONNECTION=Enabled" in README
    for release in ("3.0", "3.1", "3.2", "3.3"):
        assert f"| {release}" in README, release
    for scheme in ("s3://", "gs://", "abfs://"):
        assert scheme in README.split("## The connection")[0], scheme
