"""A local Celonis team over real HTTP, for tests, ``make demo`` and developing DAGs.

Run it with ``python -m airflow_provider_celonis.emulator --port 8765`` and point a
``celonis`` connection at ``http://127.0.0.1:8765`` with client ``demo-client`` /
``demo-secret`` (client_secret_post) or ``basic-client`` / ``basic-secret``
(client_secret_basic). Steer it from Python with
:class:`~airflow_provider_celonis.emulator.client.EmulatorClient`.

Importing this package imports nothing heavy; FastAPI and uvicorn load only when the app
is built.

- ``app``: the ASGI app (token endpoint, API modules, control API, fault middleware).
- ``apis``: the emulated Celonis APIs' routes (and their control routes).
- ``stores``: what each emulated API remembers between requests.
- ``faults``: the faults injected on demand (status codes, drops, lies, lost answers).
- ``oauth``: ``/oauth2/token`` and the access check every API route runs.
- ``problems``: error answers shaped like Celonis's own.
- ``control``: the ``/_emulator/...`` control API.
- ``client``: :class:`~airflow_provider_celonis.emulator.client.EmulatorClient`, which starts the
  emulator as a child process and steers it.
- ``__main__``: the command line.
"""
