"""What sits in the store and travels between services: one home per contract.

Every service imports ``mesh/`` and this package, never another service. Each
module here owns one dataset or format:

- ``raw``: the raw dataset's TSV sheets (escaping both ways, sheet file names).
- ``streams``: qplan streams v1, the conditioned text the original QPlan
  filters read (../shared/DOMAIN.md).
- ``conditioned``: the conditioned dataset's files (streams, problems, status,
  estimates as written).
- ``plan``: the plan dataset's file.
"""
