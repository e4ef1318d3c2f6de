"""The Kubernetes operator: kopf handlers over the same engine, status written on the resource.

Entry points: ``controller.main.run_operator`` and ``controller.settings``. This package module
imports neither, so that the CLI's other commands never pay for loading kopf.
"""
