"""Celonis operators for Airflow; import the submodules directly."""
