"""The snapshot service: the git store of every dataset, and its request and publish sockets.

It is the only writer of the repository. Requests arrive on a ROUTER socket
(``[snapshot_service] request_endpoint``) as ``mesh.protocol`` messages and
are handled one at a time; every answer is OK with the header below, or ERR
``{"error": text, "code": word}``::

    PUT     {"dataset", "files": [name…], "source", "message", "producer"}
            bodies: one per file, in "files" order
            -> {"dataset", "commit", "seq", "changed", "lineage"}
    GET     {"dataset", "commit": SHA or "latest"}
            -> {"dataset", "commit", "seq", "time", "source", "producer",
                "message", "lineage", "chain", "files": [name…]} + bodies
    LATEST  {"dataset"} -> the GET header without "files"
    LOG     {"dataset", "limit"} -> {"dataset", "commits": [entry…]}, newest first;
            entry = {"commit", "seq", "time", "message", "source", "producer", "lineage"}
    DIFF    {"dataset", "from", "to"} -> {"dataset", "from", "to"} + one body,
            the unified diff text (UTF-8)

- ``dataset`` is one of ``[snapshot_service] datasets``. ``source``,
  ``message`` and ``producer`` may be left out (empty); ``commit`` may be
  null (the latest); ``limit`` defaults to 50 (at most 10000); ``from`` and
  ``to`` may be ``"latest"``.
- A SHA is 7 to 40 hex digits naming exactly one commit. GET of a commit
  that did not change the dataset answers the dataset's files as of that
  commit, with the commit that produced them; ``"commit": null`` (and no
  files) means the dataset had no content yet.
- A PUT's files replace the dataset's folder. Names are plain file names:
  no ``/``, ``\\``, NUL or control characters, not starting with ``.``, at
  most 255 bytes of UTF-8. A PUT whose files equal the current content makes
  no commit: ``changed`` is false and ``commit``/``seq`` are the current ones.
  A ``source`` of the form ``<dataset>@<sha>`` must name a commit in the
  store and is stored with the full SHA.
- Times are ISO 8601 UTC (``2026-11-23T10:00:00Z``). ``seq`` counts the
  commits of each dataset from 1.
- ERR codes: ``bad_request`` (frames, header fields, names, limits),
  ``unknown_verb``, ``unknown_dataset``, ``unknown_commit``, ``too_large``
  (a PUT over ``[snapshot_service] max_payload``), ``locked`` (a git command
  holds the branch lock), ``internal`` (a bug: logged with its traceback).

With ``[snapshot_service] durable = yes`` a PUT is answered only once its
commit survives a power cut: it is in the store's write-ahead journal
(``<store>/qplan-journal`` or ``qplan-journal-b``, fdatasync'ed), from which
the next start redoes whatever the objects or the branch lost; a journal
file is emptied by a checkpoint (one syncfs) when it is long, when the
service is idle and at shutdown (``disk`` and ``journal`` tell how). The
commit's objects and the branch are put in place right after the answer is
sent, before the NOTIFY and before the next request is read: every client
of the service sees the commit from its answer on, and a plain git reader
racing the answer may see the branch one commit behind for a fraction of a
millisecond. With ``durable = no`` nothing is synced (and the commit is in
place before the answer).

After every commit a NOTIFY goes out on the PUB socket
(``[snapshot_service] publish_endpoint``), topic = the dataset name, header
``{"dataset", "seq", "commit", "lineage", "time"}``; it is sent after the
PUT's answer.
"""
