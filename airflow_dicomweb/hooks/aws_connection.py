"""``aws_conn_id``: an Airflow AWS connection as the credentials of ``auth_type: aws``.

The connection is read through the Amazon provider's ``AwsBaseHook`` (access keys, a role to assume, web
identity, profiles: whatever that connection says), at the first request and not before. The credentials
it gives are botocore's, refreshed by botocore when temporary.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow_dicomweb.core.errors import DicomWebConfigError


def credentials_from(aws_conn_id: str, region_name: str | None) -> Callable[[], Any]:
    """A callable returning the botocore credentials of the Airflow AWS connection ``aws_conn_id``."""

    def credentials() -> Any:
        try:
            from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
        except ImportError:
            raise DicomWebConfigError(
                "aws_conn_id needs the Amazon provider: pip install apache-airflow-providers-amazon"
            ) from None
        session = AwsBaseHook(aws_conn_id=aws_conn_id, region_name=region_name).get_session()
        found = session.get_credentials()
        if found is None:
            raise DicomWebConfigError(f"the AWS connection {aws_conn_id!r} gives no credentials")
        return found

    return credentials
