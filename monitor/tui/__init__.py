"""The live dashboard (Textual): `app.Dashboard`, fed by `feed.LiveFeed` over the socket API.

Nothing here is imported by the core; `monitor.launch` imports it only to open a dashboard.
"""
