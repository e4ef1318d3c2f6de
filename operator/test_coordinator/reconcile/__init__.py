"""The reconcile core: what turns "this scenario exists, with this spec" into runs, for every
front end (the kopf operator, ``serve``). See ``host.py`` for the adapter a front end writes."""
