"""HTTP for the core: the transport (one pooled session, typed errors), the URL policy that keeps
credentials on the service's origin, bounded response bodies, retries and the redaction of secrets."""
