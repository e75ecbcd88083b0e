"""Portal's development kit: the provider sandbox, the offline demo and the pytest plugin with
fixtures and contract tests for plugin authors. Never installed in production."""
