"""test-coordinator: chaos scenarios for multi-service systems."""
