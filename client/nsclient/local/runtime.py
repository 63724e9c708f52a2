"""The local backend's runtime: what stands in for Lambda, Batch and Step Functions' credentials.

One object, made and owned by the local backend (daemon.LocalBackend), filled in by the stack as it
creates the template's resources, and handed to moto_fixes.install, through which moto reaches it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nsclient.local.batch_runtime import BatchRuntime
from nsclient.local.lambda_runtime import LambdaRuntime

if TYPE_CHECKING:
    from nsclient.local.principals import Credentials


@dataclass
class LocalRuntime:
    batch: BatchRuntime
    lambdas: LambdaRuntime = field(default_factory=LambdaRuntime)
    # The state machine role's, for Step Functions' service integrations (None: moto's own dummy keys).
    state_machine_credentials: Credentials | None = None

    @classmethod
    def for_endpoint(cls, endpoint_url: str, region: str) -> LocalRuntime:
        return cls(batch=BatchRuntime(endpoint_url=endpoint_url, region=region))
