"""The client core under every hook: settings, the API table, sending, retries, errors, paging.

Internal: import the hooks (``airflow_provider_celonis.hooks``), not these modules; they may change
between releases.

- ``connection``: an Airflow Connection turned into validated settings (pure, no I/O).
- ``tls``: ``verify`` read strictly, and the TLS and proxy options of both transports.
- ``apis``: the Celonis APIs, with the scope, path prefix and permission of each.
- ``arguments``: the checks of every number a user gives (extras, hook and operator arguments),
  and of a data job's ``mode`` and subset lists.
- ``paths``: ids into URL path segments, credentials out of URIs.
- ``timestamps``: every Celonis timestamp form (ISO with Z/z/offset or none, epoch seconds or
  milliseconds, HTTP-dates, the Team Members display form) parsed in one place.
- ``retry_policy``: when to retry and how long to wait, one policy for sync and async.
- ``calls``: ``Call``, the description of one endpoint (API, method, path template, ids, body)
  that the hooks' ``call``/``acall`` send.
- ``sending``, ``transport``, ``deadline``, ``redirects``: one request over requests or aiohttp,
  with a total deadline and the redirect rule.
- ``error_mapping``: Celonis error answers to typed exceptions.
- ``usage_pages``, ``intelligence_pages``: what a page must look like before it is trusted.
- ``names``: names given instead of ids: which argument is used, and which listed object a name means.
- ``pool_pages``: what a list of the integration service (pools, jobs, tasks, data models,
  tables) must look like before a name is matched against it; the paged pool list's reads.
"""
