"""Celonis sensors for Airflow; import the submodules directly."""
