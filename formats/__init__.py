"""What sits in the store and travels between services: one home per contract.

Every service imports ``mesh/`` and this package, never another service. Each
module here owns one dataset or format:

- ``streams``: qplan streams v1, the conditioned text the original QPlan
  filters read (../shared/DOMAIN.md).
"""
