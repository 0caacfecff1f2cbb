"""Pure planning logic, shared by the services that plan: no sockets, no store.

- ``planner``: DOMAIN.md's plan of one model (manpower, demand, shortages,
  dates), and its JSON;
- ``schedule``: the greedy list schedule, the hot path;
- ``insight``: why each date is what it is, the weekly load, leverage;
- ``montecarlo``: the forecast, the schedule run many times (numpy);
- ``whatif``: edits to a model (people added, estimates changed) and how two
  plans differ.

qplan_service and forecast_service import it; it imports only ``formats``.
"""
