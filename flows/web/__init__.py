"""`newsflow web`: the stored news as server-rendered pages and a JSON API
under /api/, read-only (flows/web/app.py).  An entry point like the CLI, so
it lives in flows/; every question it asks is pipeline/query.py's."""
