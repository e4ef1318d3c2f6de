"""`serve`: scenario files in a watched directory and an HTTP API, reconciled like resources."""
