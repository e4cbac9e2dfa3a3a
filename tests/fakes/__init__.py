"""Servers and proxies that misbehave on demand: a scriptable HTTP server, a fault-injecting proxy, hostile payloads, a google-auth probe."""
