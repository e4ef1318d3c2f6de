"""How the coordinator joins the ecosystem: settings from flags, environment, a config file and
the live configuration (Redis hash, ConfigMap); the kill switch kept in step with them; gRPC
health; registration in Redis for discovery."""
