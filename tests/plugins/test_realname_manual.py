"""The manual-review backend passes the real-name backend contract: the operator's commands are the
provider."""
from __future__ import annotations

from portal_devkit.testing.realname import RealnameBackendContract


class TestManualReviewContract(RealnameBackendContract):
    backend = "realname_manual"

    def finish(self, app, sandbox, attempt, result):
        runner = app.test_cli_runner()
        if result == "pass":
            outcome = runner.invoke(args=["portal", "realname", "approve", str(attempt.id)])
        elif result == "fail":
            outcome = runner.invoke(args=["portal", "realname", "reject", str(attempt.id),
                                          "--reason", "The documents do not match"])
        else:
            return  # nobody decides
        assert outcome.exit_code == 0, outcome.output
