"""The admin panel under `/admin`: server-rendered pages on the service's own database and store.

`service.admin.app.build_admin_app` builds it; `service.app` routes every `/admin` request to it.
This package's `__init__` imports nothing, so reading the settings stays cheap.
"""
