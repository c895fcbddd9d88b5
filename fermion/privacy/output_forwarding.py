"""The outputs that forward erasures, as :class:`ErasureForwarder`s: each output of the workspace whose
integration supports "Data Subject Request Forwarding for Erasure" and whose ``forward_erasure`` setting
(the Forwarding Status toggle) is on — Klaviyo's audience and events outputs, which ask Klaviyo for a
data-privacy deletion."""

from __future__ import annotations

from typing import Any

import httpx

from fermion.outputs import Output, Outputs, integration_named
from fermion.privacy.forwarding import FAILED, PENDING, ErasureForwarder, ErasureOrder, ForwardOutcome


class OutputErasureForwarders:
    """Finds, per workspace, the outputs an erasure is forwarded to."""

    def __init__(self, outputs: Outputs) -> None:
        self._outputs = outputs

    def __call__(self, workspace_id: int) -> list[ErasureForwarder]:
        found: list[ErasureForwarder] = []
        for output in self._outputs.outputs(workspace_id):
            integration: Any = integration_named(output.integration)
            if not hasattr(integration, "forward_erasure"):
                continue
            if output.settings.get("forward_erasure", True):
                found.append(OutputForwarder(output, integration))
        return found


class OutputForwarder:
    """One output asked to delete a person at its partner."""

    def __init__(self, output: Output, integration: Any) -> None:
        self._output = output
        self._integration = integration
        self.domain: str = integration.erasure_domain
        self.name = output.name
        self.key = f"output:{output.id}"

    def forward_erasure(self, order: ErasureOrder) -> ForwardOutcome:
        """The partner's answer; a transient failure comes back ``pending`` to be retried."""
        timeout = float(self._output.settings.get("timeout_s") or 10)
        with httpx.Client(timeout=timeout) as http:
            result = self._integration.forward_erasure(
                self._output.settings, order.identities, http, order.countries
            )
        status = {"retry": PENDING}.get(result.status, result.status)
        if status not in ("sent", "skipped", FAILED, PENDING):
            status = FAILED
        return ForwardOutcome(status, result.message, result.retry_after_ms)
