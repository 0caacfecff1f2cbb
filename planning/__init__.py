"""Pure planning logic, shared by the services that plan: no sockets, no store.

- ``planner``: DOMAIN.md's plan of one model (manpower, demand, shortages,
  the greedy list schedule), and its JSON.
- ``whatif``: edits to a model (people added, estimates changed) and how two
  plans differ.

qplan_service and forecast_service import it; it imports only ``formats``.
"""
