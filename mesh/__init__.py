"""Plumbing every QPlan mesh component shares.

- ``config``     config.ini with typed getters and errors naming file, section and key
- ``errors``     the exceptions a user sees, with their exit codes
- ``protocol``   the one message class that builds and parses frames on the wire
- ``client``     request clients (blocking and asyncio) with timeout, reopen and retry
- ``snapshot``   typed calls of the snapshot service's verbs
- ``subscriber`` a SUB socket that notices sequence gaps
- ``stage``      subscribe-first-then-sync catch-up for pipeline stages
- ``service``    the asyncio service base: signals, logging, counters, heartbeat
- ``cli``        the ``--config`` / ``--set`` command line every entry point takes
"""
