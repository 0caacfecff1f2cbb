"""The QPlan mesh web: plan page, what-ifs, history, dashboard, JSON API and websocket.

- ``service``   the stage that follows ``plan``, binds the heartbeat SUB and runs Tornado
- ``app``       the Tornado handlers: pages, JSON API, websocket
- ``hub``       the websocket fan-out that one slow browser cannot hold up
- ``views``     the plan page's view of one track at one triage level (pure)
- ``plandiff``  what changed between two plans (pure)
- ``health``    the dashboard's status rules and rates (pure)
"""
