"""Demo trading stack: small real services the coordinator starts, crashes and watches recover."""
